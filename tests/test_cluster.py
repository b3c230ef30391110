"""Cluster mode as an operator sees it: real `newswatch run --role ...` processes on a
real PostgreSQL database, alerts sent to a local HTTP receiver."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.exc import SQLAlchemyError
from test_alerts_outbox import BODY, hook_url, publish
from test_daemon import wait_until
from test_daemon_lifecycle import SlowReceiver
from test_end_to_end import NEWSWATCH

from crawler.database import make_engine, make_sessionmaker
from crawler.models import utcnow
from scheduler import nodes
from scheduler.app import App
from scheduler.cluster import publish_config
from scheduler.config import load_config
from scheduler.models import Node, PublishedConfig
from scheduler.nodes import list_nodes
from scheduler.status import node_json

RULE = "Putin in Pyongyang"


def cluster_config(tmp_path: Path, database_url: str, *, channel: str = "${DESK_URL}",
                   channel_options: str = "", rules: str = "", name: str = "config.toml",
                   lease: str = "3s") -> Path:
    """A cluster's config: the channel URL from the environment, short claim leases, a
    heartbeat every second (what `status` shows is fresh) and a standby that tries to take
    over every second."""
    path = tmp_path / name
    path.write_text(f"""
[storage]
url = {json.dumps(database_url)}

[daemon]
deliver_interval = "1s"
claim_lease = "{lease}"
heartbeat_interval = "1s"
standby_retry = "1s"

[[sources]]
name = "Wire"
url = "http://127.0.0.1:9/wire"

[channels.desk]
urls = [{json.dumps(channel)}]
{channel_options}

[[rules]]
name = "{RULE}"
query = "Putin Pyongyang"
channels = ["desk"]
{rules}
""", encoding="utf-8")
    return path


def node_config(tmp_path: Path, database_url: str) -> Path:
    """A worker's own file: only where the database is."""
    path = tmp_path / "node.toml"
    path.write_text(f"[storage]\nurl = {json.dumps(database_url)}\n", encoding="utf-8")
    return path


class Cluster:
    """Processes of one cluster, each stopped with SIGTERM (killed if it hangs)."""

    def __init__(self, environment: dict[str, str]) -> None:
        self.environment = {**os.environ, **environment}
        self.processes: list[subprocess.Popen[str]] = []

    def start(self, config: Path, role: str) -> subprocess.Popen[str]:
        process = subprocess.Popen([NEWSWATCH, "--config", str(config), "run", "--role", role],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   env=self.environment)
        self.processes.append(process)
        return process

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()


@contextmanager
def cluster(environment: dict[str, str]) -> Iterator[Cluster]:
    running = Cluster(environment)
    try:
        yield running
    finally:
        running.stop()


@contextmanager
def published_app(config: Path) -> Iterator[App]:
    """The database migrated and `config` published, as an active scheduler leaves it
    (without its polling, so the test decides what is stored)."""
    app = App(load_config(config, {"DESK_URL": "json://127.0.0.1:9/unused"}))
    try:
        app.open()
        publish_config(app.sessions, config.read_text(encoding="utf-8"))
        yield app
    finally:
        app.close()


def store_articles(app: App, count: int) -> list[str]:
    """`count` matching articles, each a story of its own; their titles."""
    titles = [f"Putin lands in Pyongyang, day {n}" for n in range(count)]
    for title in titles:
        publish(app, title, BODY)
    return titles


def received(receiver: SlowReceiver) -> Counter[str]:
    return Counter(request.json["title"].removeprefix(f"[{RULE}] ")
                   for request in receiver.requests)


def cluster_nodes(database_url: str) -> list[dict]:
    """The `nodes` of `newswatch status --json`, read in-process with the same query and
    JSON: for polling, where the command would start a process every time."""
    engine = make_engine(database_url)
    try:
        with make_sessionmaker(engine)() as session:
            now = utcnow()
            return [node_json(node, now) for node in list_nodes(session, now)]
    except SQLAlchemyError:
        return []  # no tables yet
    finally:
        engine.dispose()


def status_nodes(config: Path, environment: dict[str, str]) -> list[dict]:
    result = subprocess.run([NEWSWATCH, "--config", str(config), "status", "--json"],
                            capture_output=True, text=True, timeout=60, check=True,
                            env={**os.environ, **environment})
    return json.loads(result.stdout)["nodes"]


def test_two_workers_send_every_alert_exactly_once(
    tmp_path: Path, migrated_postgres_url: str,
) -> None:
    with SlowReceiver(delay=0.2) as receiver:
        environment = {"DESK_URL": hook_url(receiver)}
        config = cluster_config(tmp_path, migrated_postgres_url)
        with published_app(config) as app, cluster(environment) as running:
            titles = store_articles(app, 40)
            for _ in range(2):
                running.start(node_config(tmp_path, migrated_postgres_url), "worker")
            assert wait_until(lambda: len(receiver.requests) >= 40, 90), receiver.requests
            assert not wait_until(lambda: len(receiver.requests) > 40, 3)
            # What a worker has sent reaches `status` with its next heartbeat.
            assert wait_until(lambda: sum(n["jobs"]["sent"] for n in cluster_nodes(
                migrated_postgres_url)) >= 40, 40)
            workers = status_nodes(config, environment)
        assert received(receiver) == Counter(titles)
        assert sorted((n["role"], n["state"]) for n in workers) == [("worker", "running")] * 2
        assert sum(n["jobs"]["sent"] for n in workers) == 40
        assert all(n["jobs"]["sent"] > 0 for n in workers), workers  # both did a share


def test_a_worker_killed_mid_run_leaves_its_alerts_to_the_other(
    tmp_path: Path, migrated_postgres_url: str,
) -> None:
    with SlowReceiver(delay=0.2) as receiver:
        environment = {"DESK_URL": hook_url(receiver)}
        config = cluster_config(tmp_path, migrated_postgres_url, lease="3s")
        with published_app(config) as app, cluster(environment) as running:
            titles = store_articles(app, 30)
            victim = running.start(node_config(tmp_path, migrated_postgres_url), "worker")
            running.start(node_config(tmp_path, migrated_postgres_url), "worker")
            assert wait_until(lambda: len(receiver.requests) >= 8, 60)
            victim.send_signal(signal.SIGKILL)
            assert wait_until(lambda: set(received(receiver)) == set(titles), 90)
            assert not wait_until(lambda: len(receiver.requests) > 31, 5)
        counts = received(receiver)
        assert set(counts) == set(titles)
        # The one message the killed worker may have been sending when it died can reach
        # the receiver twice (accepted, then killed before the commit); nothing else.
        assert sum(counts.values()) - len(titles) <= 1, counts


def test_two_workers_keep_a_channel_within_its_rate_limit(
    tmp_path: Path, migrated_postgres_url: str,
) -> None:
    with SlowReceiver(delay=0.05) as receiver:
        environment = {"DESK_URL": hook_url(receiver)}
        config = cluster_config(tmp_path, migrated_postgres_url,
                                channel_options='rate_limit = "3/1h"')
        with published_app(config) as app, cluster(environment) as running:
            store_articles(app, 12)
            for _ in range(2):
                running.start(node_config(tmp_path, migrated_postgres_url), "worker")
            assert wait_until(lambda: len(receiver.requests) >= 3, 60)
            assert not wait_until(lambda: len(receiver.requests) > 3, 8), receiver.requests


def test_the_standby_scheduler_takes_over_when_the_active_one_is_killed(
    tmp_path: Path, postgres_url: str,
) -> None:
    environment = {"DESK_URL": "json://127.0.0.1:9/hook"}
    config = cluster_config(tmp_path, postgres_url)
    with cluster(environment) as running:
        first = running.start(config, "scheduler")

        def schedulers() -> dict[int, str]:
            return {n["pid"]: n["state"] for n in cluster_nodes(postgres_url)
                    if n["role"] == "scheduler"}

        assert wait_until(lambda: schedulers().get(first.pid) == "active", 60)
        second = running.start(config, "scheduler")
        assert wait_until(lambda: schedulers().get(second.pid) == "standby", 60)
        first.send_signal(signal.SIGKILL)
        first.wait()
        assert wait_until(lambda: schedulers().get(second.pid) == "active", 60), schedulers()
        shown = {n["pid"]: n["state"] for n in status_nodes(config, environment)
                 if n["role"] == "scheduler"}
        assert shown[second.pid] == "active"
        assert shown[first.pid] in ("active", "gone")  # its last word stays


def test_reload_on_the_scheduler_reaches_every_worker(tmp_path: Path, postgres_url: str) -> None:
    with SlowReceiver(delay=0.01) as receiver:
        environment = {"DESK_URL": hook_url(receiver)}
        config = cluster_config(tmp_path, postgres_url)
        with cluster(environment) as running:
            running.start(config, "scheduler")
            worker = running.start(node_config(tmp_path, postgres_url), "worker")

            def worker_version() -> int | None:
                found = [n for n in cluster_nodes(postgres_url) if n["pid"] == worker.pid]
                return found[0]["jobs"].get("config_version") if found else None

            assert wait_until(lambda: worker_version() == 1, 60)
            config.write_text(config.read_text(encoding="utf-8") + """
[[rules]]
name = "Ferries"
query = "ferry"
channels = ["desk"]
""", encoding="utf-8")
            reload = subprocess.run([NEWSWATCH, "--config", str(config), "reload"],
                                    capture_output=True, text=True, timeout=60,
                                    env={**os.environ, **environment})
            assert reload.returncode == 0, reload.stderr
            assert "config version 2 published" in reload.stdout
            assert wait_until(lambda: worker_version() == 2, 30)
            engine = make_engine(postgres_url)
            try:
                with make_sessionmaker(engine)() as session:
                    published = session.scalars(select(PublishedConfig.text)
                                                .order_by(PublishedConfig.version)).all()
            finally:
                engine.dispose()
            assert "Ferries" in published[-1]
            assert "${DESK_URL}" in published[-1]  # published as written: no secret
            assert receiver.url.removeprefix("http://") not in "".join(published)
            app = App(load_config(config, environment))
            try:
                publish(app, "The old ferry sails again", "A ferry crossed the bay today.")
            finally:
                app.close()
            assert wait_until(lambda: any("ferry" in r.json["title"]
                                          for r in receiver.requests), 30)


def refusal(config: Path, role: str) -> str:
    """The one line `run --role ROLE` prints when it refuses to start (exit 1)."""
    result = subprocess.run([NEWSWATCH, "--config", str(config), "run", "--role", role],
                            capture_output=True, text=True, timeout=60,
                            env={**os.environ, "DESK_URL": "json://127.0.0.1:9/x"})
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    return line


@pytest.mark.parametrize(("channel", "storage_password", "key"), [
    ("json://127.0.0.1:9/s3cr3t-token", False, "channels.desk.urls[0]"),
    ("${DESK_URL}", True, "storage.url"),
])
def test_a_scheduler_refuses_a_literal_secret_in_cluster_mode(
    tmp_path: Path, postgres_url: str, channel: str, storage_password: bool, key: str,
) -> None:
    database_url = (postgres_url.replace("postgres@", "postgres:hunter22@")
                    if storage_password else postgres_url)
    config = cluster_config(tmp_path, database_url, channel=channel)
    line = refusal(config, "scheduler")
    assert key in line and "${ENV_VAR}" in line
    assert "s3cr3t-token" not in line and "hunter22" not in line


def test_role_on_sqlite_is_refused_in_one_line(tmp_path: Path) -> None:
    config = cluster_config(tmp_path, f"sqlite:///{tmp_path / 'nw.db'}")
    line = refusal(config, "worker")
    assert "needs PostgreSQL" in line
    assert not (tmp_path / "nw.db").exists()


def test_status_lists_every_node_and_shows_a_silent_one_as_gone(
    tmp_path: Path, migrated_postgres_url: str,
) -> None:
    config = cluster_config(tmp_path, migrated_postgres_url)
    environment = {"DESK_URL": "json://127.0.0.1:9/x"}
    with published_app(config) as app:
        live = nodes.register(app.sessions, "worker", "running")
        nodes.beat(app.sessions, live, "running", {"config_version": 1, "sent": 7})
        silent = nodes.register(app.sessions, "scheduler", "active")
        with app.sessions.begin() as session:
            session.get(Node, silent).heartbeat_at = utcnow() - timedelta(minutes=2)
    shown = subprocess.run([NEWSWATCH, "--config", str(config), "status"], capture_output=True,
                           text=True, timeout=60, check=True, env={**os.environ, **environment})
    lines = shown.stdout.splitlines()
    assert "nodes (2):" in lines
    [scheduler] = [line for line in lines if line.strip().startswith("scheduler ")]
    [worker] = [line for line in lines if line.strip().startswith("worker ")]
    assert " gone " in scheduler and "2m ago" in scheduler
    assert " running " in worker and "config_version 1, sent 7" in worker
    states = {n["role"]: n["state"] for n in status_nodes(config, environment)}
    assert states == {"scheduler": "gone", "worker": "running"}


@pytest.mark.parametrize(("options", "key"), [
    ('username = "desk"\npassword = "hunter22"', "sources[0].password"),
    ('headers = { Authorization = "Bearer hunter22" }', "sources[0].headers.Authorization"),
    ('cookies = { session = "hunter22" }', "sources[0].cookies.session"),
    ('proxy = "http://desk:hunter22@127.0.0.1:3128"', "sources[0].proxy"),
])
def test_a_scheduler_refuses_a_literal_source_credential_in_cluster_mode(
    tmp_path: Path, postgres_url: str, options: str, key: str,
) -> None:
    """A source's password, secret header, cookie or proxy password would be published
    whole in `published_configs`, as a channel token would."""
    config = cluster_config(tmp_path, postgres_url)
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace('url = "http://127.0.0.1:9/wire"',
                                   f'url = "http://127.0.0.1:9/wire"\n{options}'),
                      encoding="utf-8")
    line = refusal(config, "scheduler")
    assert key in line and "${ENV_VAR}" in line
    assert "hunter22" not in line
    engine = make_engine(postgres_url)
    if inspect(engine).has_table(PublishedConfig.__table__.name):  # refused before migrating
        with make_sessionmaker(engine)() as session:
            assert not any("hunter22" in row.text
                           for row in session.scalars(select(PublishedConfig)))


def test_source_credentials_from_the_environment_are_published_as_references(
    tmp_path: Path, postgres_url: str,
) -> None:
    from scheduler.cluster import literal_secrets

    config = cluster_config(tmp_path, postgres_url)
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace('url = "http://127.0.0.1:9/wire"', "\n".join([
        'url = "http://127.0.0.1:9/wire"', 'username = "desk"', 'password = "${FEED_PW}"',
        'headers = { Authorization = "${FEED_AUTH}", User-Agent = "newswatch-test" }',
        'cookies = { session = "${FEED_COOKIE}" }',
        'proxy = "http://desk:${PROXY_PW}@127.0.0.1:3128"'])), encoding="utf-8")
    assert literal_secrets(config) == []

"""Crawls on Scrapyd nodes (scheduler/scrapyd.py, scheduler/crawl_node.py): two real
Scrapyd servers on loopback running the installed spider, real PostgreSQL, local outlets.

The outlets listen on 127.0.0.2, declared public to the crawl nodes (NEWSWATCH_TREAT_AS_PUBLIC,
test only) so the address guard lets them through.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from outlets import Copy, write_outlet
from scrapyd_nodes import ScrapydServer, start_all
from servers import SiteServer, WebhookReceiver, _Handler, _LoopbackHTTPServer, free_port
from sqlalchemy import func, select, update
from sqlalchemy import text as sql_text
from sqlalchemy.orm import sessionmaker

from crawler.models import Article, Source, utcnow
from scheduler.app import App
from scheduler.cluster import publish_config
from scheduler.config import ConfigError, RetentionConfig, load_config
from scheduler.housekeeping import housekeeping
from scheduler.models import ScrapydJob
from scheduler.scrapyd import Dispatcher

pytestmark = pytest.mark.timeout(240)

NEWSWATCH = str(Path(sys.executable).with_name("newswatch"))
OUTLETS = ["gazette", "courier", "gazette", "courier"]


class SlowSite(_LoopbackHTTPServer):
    """Answers nothing for a minute: a crawl of it overruns any short time limit."""

    def __init__(self, host: str = "127.0.0.2") -> None:
        super().__init__(host)
        self.released = threading.Event()

    def _handle(self, request: _Handler) -> None:
        self.released.wait(60)
        request.send_response(503)
        request.end_headers()

    def stop(self) -> None:
        self.released.set()
        super().stop()


@pytest.fixture(scope="module")
def node_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("crawl-nodes")


@pytest.fixture(scope="module")
def nodes(node_dir: Path) -> Iterator[list[ScrapydServer]]:
    """Two Scrapyd nodes, reading the config each test writes to `node_dir/config.toml`."""
    environ = {"NEWSWATCH_CONFIG": str(node_dir / "config.toml"),
               "NEWSWATCH_TREAT_AS_PUBLIC": "127.0.0.2"}
    environ.pop("NEWSWATCH_DATABASE_URL", None)
    servers = [ScrapydServer(node_dir / f"node{n}", environ) for n in (1, 2)]
    try:
        start_all(servers)
        yield servers
    finally:
        for server in servers:
            server.stop()


# The one wire story every outlet republishes, twice, each copy with a line of its own.
WIRE = ["The harbour works reached their final stage on Monday, as crews lifted the last "
        "sections of the new breakwater into place and divers checked the foundations.",
        "The council said the quay would reopen to ferries and fishing boats before the "
        "summer season, after two years of closures, delays and rising costs."]


def outlet_paragraphs(number: int, k: int) -> list[str]:
    """Copies of one story: whatever order the nodes store them in, they are one story
    (and one alert). Texts only partly alike were grouped by the order they came in."""
    return [*WIRE, f"This is copy {k} of the report, as outlet {number} ran it."]


@pytest.fixture
def outlets(tmp_path: Path) -> Iterator[list[SiteServer]]:
    sites = []
    for number, template in enumerate(OUTLETS):
        root = tmp_path / f"outlet{number}"
        write_outlet(root, [Copy(template, f"story-{number}-{k}", f"Outlet {number} story {k}",
                                 outlet_paragraphs(number, k))
                            for k in range(2)])
        sites.append(SiteServer(root, host="127.0.0.2").start())
    yield sites
    for site in sites:
        site.stop()


def write_config(node_dir: Path, database_url: str, sources: dict[str, str],
                 node_urls: list[str], time_limit: str = "5m", batch_size: int = 1,
                 jobs_per_node: int = 2, extra: str = "") -> App:
    """The scheduler's config, which the nodes read too (one file: same machine)."""
    source_tables = "".join(f'[[sources]]\nname = "{name}"\nurl = "{url}"\nkind = "feed"\n\n'
                            for name, url in sources.items())
    nodes = ", ".join(f'"{url}"' for url in node_urls)
    path = node_dir / "config.toml"
    path.write_text(f"""[storage]
url = "{database_url}"

[crawler]
download_delay = "0s"
crawl_time_limit = "{time_limit}"
download_timeout = "2m"

[scrapyd]
nodes = [{nodes}]
batch_size = {batch_size}
jobs_per_node = {jobs_per_node}
poll_interval = "1s"
node_timeout = "5s"

{source_tables}{extra}""", encoding="utf-8")
    app = App(load_config(path))
    app.open()
    return app


def track_until(dispatcher: Dispatcher, done: Callable[[], bool], within: float = 150) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        dispatcher.track()
        if done():
            return
        time.sleep(0.5)
    raise AssertionError("the jobs did not end in time")


def jobs(app: App) -> list[ScrapydJob]:
    with app.sessions() as session:
        return list(session.scalars(select(ScrapydJob).order_by(ScrapydJob.started_at)))


def open_jobs(app: App) -> int:
    return sum(job.state in ("scheduled", "running") for job in jobs(app))


def source(app: App, name: str) -> Source:
    with app.sessions() as session:
        row = session.scalar(select(Source).where(Source.name == name))
        assert row is not None
        return row


def alert_trail(app: App, webhook: WebhookReceiver, log: str) -> str:
    """What led to the alerts: the requests, each article's story, each alert and each
    delivery attempt, and the daemon's log."""
    with app.sessions() as session:
        articles = session.execute(select(Article.id, Article.story_id, Article.title,
                                          Article.from_feed)).all()
        alerts = session.execute(sql_text("SELECT * FROM notifications")).all()
        attempts = session.execute(sql_text("SELECT * FROM alert_attempts")).all()
    return "\n".join([str([r.json for r in webhook.requests]), str(articles), str(alerts),
                      str(attempts), log[-6000:]])


def assert_failed_once_and_backed_off(row: Source, job: ScrapydJob, reason: str) -> None:
    """The job's source failed once, with `reason`, and was re-planned by the failure: the
    10-minute interval doubled, not left on the lease."""
    assert row.last_status == "crawl failed"
    assert reason in (row.last_error or "")
    assert row.error_count == 1
    assert row.next_poll_at is not None and job.ended_at is not None
    assert row.next_poll_at != job.lease_until
    assert row.next_poll_at - job.ended_at > timedelta(minutes=19)


def test_due_sources_crawl_on_both_nodes_and_a_standby_tracks_them_to_the_end(
    nodes: list[ScrapydServer], node_dir: Path, migrated_postgres_url: str,
    outlets: list[SiteServer],
) -> None:
    """Four due sources, one per job, two jobs per node: the jobs spread over both
    nodes, their articles land in PostgreSQL, and a second dispatcher (a standby that
    took over) sees them finish; no source is in two jobs."""
    app = write_config(node_dir, migrated_postgres_url,
                       {f"outlet{n}": f"{site.base_url}/feed/" for n, site in enumerate(outlets)},
                       [node.url for node in nodes])
    started = Dispatcher(app).dispatch()
    assert len(started) == 4
    assert Dispatcher(app).dispatch() == []  # all claimed: nothing is due twice

    standby = Dispatcher(App(load_config(node_dir / "config.toml")))
    track_until(standby, lambda: open_jobs(app) == 0)

    ended = jobs(app)
    assert [job.state for job in ended] == ["finished"] * 4, [j.reason for j in ended]
    assert {job.node for job in ended} == {node.url for node in nodes}
    assert sorted(s for job in ended for s in job.sources) == sorted(
        source(app, f"outlet{n}").id for n in range(4))
    with app.sessions() as session:
        stored = dict(session.execute(
            select(Source.name, func.count(Article.id)).join(Article).group_by(Source.name)).all())
    assert stored == {f"outlet{n}": 2 for n in range(4)}
    leases = {s: job.lease_until for job in ended for s in job.sources}
    for n in range(4):
        row = source(app, f"outlet{n}")
        assert row.last_status == "ok"
        assert row.next_poll_at not in (None, leases[row.id])  # planned by the crawl
    job_log = nodes[0].job_log(ended[0].id) + nodes[1].job_log(ended[0].id)
    assert "postgresql" not in job_log.lower()  # the database URL never reaches Scrapyd


def test_the_daemon_crawls_on_the_nodes_matches_and_status_lists_them(
    nodes: list[ScrapydServer], node_dir: Path, migrated_postgres_url: str,
    outlets: list[SiteServer], webhook: WebhookReceiver, tmp_path: Path,
) -> None:
    """`newswatch run` with `[scrapyd] nodes`: due sources are crawled as Scrapyd jobs,
    never in a local child process, what they store is matched and alerted (one story:
    one alert), and `newswatch status` shows both nodes."""
    app = write_config(
        node_dir, migrated_postgres_url,
        {f"outlet{n}": f"{site.base_url}/feed/" for n, site in enumerate(outlets)},
        [node.url for node in nodes], batch_size=2,
        extra=f'[channels.hook]\nurls = ["json://127.0.0.1:{webhook.port}/hook"]\n\n'
              '[[rules]]\nname = "harbour"\nquery = "harbour works"\nchannels = ["hook"]\n')
    app.close()
    config = node_dir / "config.toml"
    log_path = tmp_path / "daemon.log"
    with log_path.open("w") as log:
        daemon = subprocess.Popen([NEWSWATCH, "--config", str(config), "run"],
                                  stdout=subprocess.DEVNULL, stderr=log)
        try:
            deadline = time.monotonic() + 150
            while not webhook.requests or open_jobs(app) or len(jobs(app)) < 2:
                assert daemon.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.5)
            status = subprocess.run([NEWSWATCH, "--config", str(config), "status"],
                                    capture_output=True, text=True, timeout=60, check=True)
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(60)
    text = log_path.read_text()
    assert "crawl started" not in text  # no local child process
    assert {job.state for job in jobs(app)} == {"finished"}
    assert {job.node for job in jobs(app)} == {node.url for node in nodes}
    assert len(webhook.requests) == 1, alert_trail(app, webhook, text)
    assert "Crawl nodes (Scrapyd):" in status.stdout
    for node in nodes:
        assert f"{node.url}: up, 0 running, 0 pending (room for 2)" in status.stdout


def test_an_overrunning_job_is_cancelled_and_its_sources_fail_with_the_reason(
    nodes: list[ScrapydServer], node_dir: Path, migrated_postgres_url: str,
) -> None:
    with SlowSite() as slow:
        app = write_config(node_dir, migrated_postgres_url, {"slow": f"{slow.base_url}/feed/"},
                           [node.url for node in nodes], time_limit="8s")
        [job_id] = Dispatcher(app).dispatch()
        dispatcher = Dispatcher(app)
        track_until(dispatcher, lambda: open_jobs(app) == 0, within=90)

        [job] = jobs(app)
        assert job.state == "cancelled"
        assert "time limit" in (job.reason or "")
        assert_failed_once_and_backed_off(source(app, "slow"), job,
                                          "crawl cancelled after 8s time limit")
        node = next(n for n in nodes if n.url == job.node)
        deadline = time.monotonic() + 20
        while job_id not in {j["id"] for j in node.jobs()["finished"]}:
            assert time.monotonic() < deadline, "the cancelled job is still running"
            time.sleep(0.5)


def test_a_killed_job_fails_its_sources_so_they_are_retried(
    nodes: list[ScrapydServer], node_dir: Path, migrated_postgres_url: str,
) -> None:
    with SlowSite() as slow:
        app = write_config(node_dir, migrated_postgres_url, {"slow": f"{slow.base_url}/feed/"},
                           [node.url for node in nodes])
        [job_id] = Dispatcher(app).dispatch()
        node = next(n for n in nodes if n.url == jobs(app)[0].node)
        deadline = time.monotonic() + 60
        while True:
            running = {j["id"]: j for j in node.jobs()["running"]}
            if job_id in running:
                break
            assert time.monotonic() < deadline, "the job never started"
            time.sleep(0.2)
        time.sleep(2)  # well into the crawl
        os.kill(int(running[job_id]["pid"]), signal.SIGKILL)
        track_until(Dispatcher(app), lambda: open_jobs(app) == 0, within=60)

        [job] = jobs(app)
        assert job.state == "failed"
        assert "ended without finishing" in (job.reason or "")
        assert_failed_once_and_backed_off(source(app, "slow"), job, "ended without finishing")


def test_a_node_that_is_down_is_skipped_and_logged_once(
    nodes: list[ScrapydServer], node_dir: Path, migrated_postgres_url: str,
    outlets: list[SiteServer], caplog: pytest.LogCaptureFixture,
) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    app = write_config(node_dir, migrated_postgres_url,
                       {f"outlet{n}": f"{site.base_url}/feed/" for n, site in enumerate(outlets)},
                       [down, nodes[0].url], jobs_per_node=4)
    dispatcher = Dispatcher(app)
    with caplog.at_level(logging.WARNING, logger="scheduler.scrapyd"):
        assert len(dispatcher.dispatch()) == 4
        dispatcher.dispatch()
        dispatcher.track()
    assert {job.node for job in jobs(app)} == {nodes[0].url}
    warnings = [r.getMessage() for r in caplog.records if down in r.getMessage()]
    assert len(warnings) == 1 and "unreachable" in warnings[0]
    track_until(dispatcher, lambda: open_jobs(app) == 0)
    assert {job.state for job in jobs(app)} == {"finished"}
    report = {node.url: node for node in dispatcher.report()}
    assert report[down].reachable is False
    assert report[nodes[0].url].reachable and report[nodes[0].url].jobs == []


def test_jobs_of_a_node_gone_for_too_long_fail_their_sources(
    node_dir: Path, migrated_postgres_url: str, outlets: list[SiteServer],
) -> None:
    """A node that dies with jobs on it: after `node_timeout` its jobs count as dead."""
    lone = ScrapydServer(node_dir / "lone", {"NEWSWATCH_CONFIG": str(node_dir / "config.toml"),
                                             "NEWSWATCH_TREAT_AS_PUBLIC": "127.0.0.2"})
    with SlowSite() as slow, lone:
        app = write_config(node_dir, migrated_postgres_url, {"slow": f"{slow.base_url}/feed/"},
                           [lone.url])
        dispatcher = Dispatcher(app)
        assert len(dispatcher.dispatch()) == 1
        lone.stop()
        dispatcher.track()
        assert open_jobs(app) == 1  # not yet: it may be a blip
        track_until(dispatcher, lambda: open_jobs(app) == 0, within=30)
    [job] = jobs(app)
    assert job.state == "failed" and "unreachable" in (job.reason or "")
    row = source(app, "slow")
    assert row.last_status == "crawl failed" and "unreachable" in (row.last_error or "")


def test_a_scrapyd_section_with_a_bad_node_address_is_refused_in_one_line(
    tmp_path: Path,
) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[scrapyd]\nnodes = ["host:6800"]\n', encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_config(path)
    [problem] = refused.value.problems
    assert "scrapyd.nodes" in problem and "http://host:6800" in problem


def test_housekeeping_deletes_crawl_jobs_ended_a_week_ago_and_keeps_open_ones(
    migrated_sessions: sessionmaker,
) -> None:
    now = utcnow()
    with migrated_sessions.begin() as session:
        for job_id, state, ended in (("old", "failed", now - timedelta(days=8)),
                                     ("recent", "finished", now - timedelta(days=1)),
                                     ("open", "running", None)):
            session.add(ScrapydJob(id=job_id, node="http://n:6800", source_ids="1",
                                   started_at=now - timedelta(days=30),
                                   lease_until=now - timedelta(days=29), state=state,
                                   ended_at=ended))
    report = housekeeping(migrated_sessions, RetentionConfig(), now)
    assert report.crawl_jobs_deleted == 1
    with migrated_sessions() as session:
        assert sorted(session.scalars(select(ScrapydJob.id))) == ["open", "recent"]


def test_two_schedulers_claiming_at_once_never_put_a_source_in_two_jobs(
    node_dir: Path, migrated_postgres_url: str,
) -> None:
    """Two dispatchers (an active scheduler and one taking over) claim due sources at the
    same moment, batch after batch: every source lands in exactly one job."""
    app = write_config(node_dir, migrated_postgres_url,
                       {f"s{n:03}": f"http://127.0.0.2:9/feed{n}/" for n in range(300)},
                       ["http://127.0.0.1:9"], batch_size=7)
    other = App(load_config(node_dir / "config.toml"))
    claimed: list[list[int]] = [[], []]
    start = threading.Barrier(2)

    def claim_all(dispatcher: Dispatcher, into: list[int]) -> None:
        start.wait()
        while (job := dispatcher.claim_due_sources("http://127.0.0.1:9")) is not None:
            into.extend(job.sources)

    threads = [threading.Thread(target=claim_all, args=(Dispatcher(a), into))
               for a, into in zip((app, other), claimed, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    everything = claimed[0] + claimed[1]
    assert len(everything) == len(set(everything)) == 300
    assert claimed[0] and claimed[1]  # both took part
    other.close()


def test_due_sources_are_claimed_past_postgresqls_65535_parameters(
    node_dir: Path, migrated_postgres_url: str,
) -> None:
    """A watch of 70,000 sources (issue 17 aims at 100,000 and more): a statement naming
    every configured source one parameter each would exceed the 65,535 a PostgreSQL
    statement may carry, and no crawl would ever be dispatched."""
    app = write_config(node_dir, migrated_postgres_url,
                       {f"s{n:05}": f"http://127.0.0.2:9/feed{n}/" for n in range(70_000)},
                       ["http://127.0.0.1:9"], batch_size=50)
    job = Dispatcher(app).claim_due_sources("http://127.0.0.1:9")
    assert job is not None and len(job.sources) == 50
    app.close()


def test_a_node_without_the_alert_channels_variables_still_crawls(
    nodes: list[ScrapydServer], node_dir: Path, migrated_postgres_url: str,
    outlets: list[SiteServer], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Cluster mode makes channel URLs ${ENV_VAR}s; a crawl node never alerts, so it
    needs none of them: its copy of the config loads without them, and its jobs finish."""
    monkeypatch.setenv("DESK_URL", "json://127.0.0.1:9/hook")  # the scheduler's, not the nodes'
    app = write_config(node_dir, migrated_postgres_url, {"outlet0": f"{outlets[0].base_url}/feed/"},
                       [node.url for node in nodes],
                       extra='[channels.desk]\nurls = ["${DESK_URL}"]\n\n'
                             '[[rules]]\nname = "harbour"\nquery = "harbour"\n'
                             'channels = ["desk"]\n')
    assert len(Dispatcher(app).dispatch()) == 1
    track_until(Dispatcher(app), lambda: open_jobs(app) == 0)
    [job] = jobs(app)
    assert job.state == "finished", job.reason
    assert source(app, "outlet0").last_status == "ok"


def write_node_config(node_dir: Path, database_url: str) -> None:
    """A crawl node's file when the scheduler publishes its config: the database only."""
    (node_dir / "config.toml").write_text(f'[storage]\nurl = "{database_url}"\n',
                                          encoding="utf-8")


def publish(app: App) -> int:
    return publish_config(app.sessions, app.loaded.path.read_text(encoding="utf-8"))


def titles(app: App, name: str) -> set[str]:
    with app.sessions() as session:
        return set(session.scalars(select(Article.title).join(Source)
                                   .where(Source.name == name)))


def test_nodes_crawl_with_the_published_config_and_follow_a_new_version(
    nodes: list[ScrapydServer], node_dir: Path, migrated_postgres_url: str,
    outlets: list[SiteServer], tmp_path: Path,
) -> None:
    """The nodes' file holds only the database URL: each job loads the config version
    the scheduler published, so a changed source setting reaches the next job."""
    scheduler_dir = tmp_path / "scheduler"
    scheduler_dir.mkdir()
    urls = [node.url for node in nodes]
    app = write_config(scheduler_dir, migrated_postgres_url,
                       {"outlet0": f"{outlets[0].base_url}/feed/"}, urls)
    write_node_config(node_dir, migrated_postgres_url)
    first = publish(app)
    assert len(Dispatcher(app, first).dispatch()) == 1
    track_until(Dispatcher(app, first), lambda: open_jobs(app) == 0)
    [job] = jobs(app)
    assert (job.state, job.config_version) == ("finished", str(first)), job.reason
    assert titles(app, "outlet0") == {"Outlet 0 story 0", "Outlet 0 story 1"}

    # The scheduler's config changes: source outlet0 now reads the second outlet's feed.
    app = write_config(scheduler_dir, migrated_postgres_url,
                       {"outlet0": f"{outlets[1].base_url}/feed/"}, urls)
    second = publish(app)
    assert second == first + 1
    with app.sessions.begin() as session:
        session.execute(update(Source).values(next_poll_at=None))  # due again now
    assert len(Dispatcher(app, second).dispatch()) == 1
    track_until(Dispatcher(app, second), lambda: open_jobs(app) == 0)
    latest = jobs(app)[-1]
    assert (latest.state, latest.config_version) == ("finished", str(second)), latest.reason
    assert {"Outlet 1 story 0", "Outlet 1 story 1"} <= titles(app, "outlet0")


def test_a_published_version_a_node_cannot_load_fails_the_job_saying_why(
    nodes: list[ScrapydServer], node_dir: Path, migrated_postgres_url: str,
    outlets: list[SiteServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A source's ${VAR} set on the scheduler but not on the nodes: the job fails, and
    the source's error says which version and variable, not "killed or crashed"."""
    monkeypatch.setenv("OUTLET_FEED", f"{outlets[0].base_url}/feed/")  # not on the nodes
    scheduler_dir = tmp_path / "scheduler"
    scheduler_dir.mkdir()
    app = write_config(scheduler_dir, migrated_postgres_url, {"outlet0": "${OUTLET_FEED}"},
                       [node.url for node in nodes])
    write_node_config(node_dir, migrated_postgres_url)
    version = publish(app)
    assert len(Dispatcher(app, version).dispatch()) == 1
    track_until(Dispatcher(app, version), lambda: open_jobs(app) == 0)
    [job] = jobs(app)
    assert job.state == "failed"
    assert f"cannot load config version {version}" in (job.reason or "")
    assert "OUTLET_FEED" in (job.reason or "")
    row = source(app, "outlet0")
    assert row.last_status == "crawl failed"
    assert f"cannot load config version {version}" in (row.last_error or "")
    assert "killed or crashed" not in (row.last_error or "")


def test_a_reload_on_the_cluster_scheduler_reaches_the_next_crawl_job(
    nodes: list[ScrapydServer], node_dir: Path, migrated_postgres_url: str,
    outlets: list[SiteServer], tmp_path: Path,
) -> None:
    """`newswatch run --role scheduler` publishes its config and its jobs carry the
    version; after `newswatch reload` with a changed source, the next job crawls with
    the new version, though the nodes' file still holds only the database URL."""
    scheduler_dir = tmp_path / "scheduler"
    scheduler_dir.mkdir()
    urls = [node.url for node in nodes]
    app = write_config(scheduler_dir, migrated_postgres_url,
                       {"outlet0": f"{outlets[0].base_url}/feed/"}, urls)
    write_node_config(node_dir, migrated_postgres_url)
    config = scheduler_dir / "config.toml"

    def finished_with(version: str) -> bool:
        return any(job.state == "finished" and job.config_version == version
                   for job in jobs(app))

    log_path = tmp_path / "scheduler.log"
    with log_path.open("w") as log:
        daemon = subprocess.Popen([NEWSWATCH, "--config", str(config), "run", "--role",
                                   "scheduler"], stdout=subprocess.DEVNULL, stderr=log)
        try:
            deadline = time.monotonic() + 150
            while not finished_with("1"):
                assert daemon.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, (log_path.read_text(), jobs(app))
                time.sleep(0.5)
            write_config(scheduler_dir, migrated_postgres_url,
                         {"outlet0": f"{outlets[1].base_url}/feed/"}, urls).close()
            reload = subprocess.run([NEWSWATCH, "--config", str(config), "reload"],
                                    capture_output=True, text=True, timeout=60)
            assert "config version 2 published" in reload.stdout, reload.stderr
            with app.sessions.begin() as session:
                session.execute(update(Source).values(next_poll_at=None))  # due again now
            while not finished_with("2"):
                assert daemon.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, (log_path.read_text(), jobs(app))
                time.sleep(0.5)
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(60)
    assert {job.state for job in jobs(app)} == {"finished"}, [j.reason for j in jobs(app)]
    assert {"Outlet 1 story 0", "Outlet 1 story 1"} <= titles(app, "outlet0")

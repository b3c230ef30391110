"""Issue 17, "How it will be checked": a whole cluster on loopback, killed in three places.

Real PostgreSQL, two Scrapyd crawl nodes, an active and a standby scheduler, two workers
(`newswatch run --role ...` processes), 20 local outlets that each republish three of 20
wire stories, 20 rules, alerts to a local receiver that records every request. Mid-run a
worker, a crawl job's process and the active scheduler are killed with SIGKILL; every
expected alert (one per rule and story) still arrives exactly once.

The crawl nodes' own config file holds only the database URL (their jobs load the config
the scheduler published) and their environment only what a crawl needs: not the alert
channel's ${DESK_URL}.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from outlets import Copy, write_outlet
from scrapyd_nodes import ScrapydServer, start_all
from servers import SiteServer, _Handler
from sqlalchemy import func, select
from test_alerts_outbox import hook_url
from test_cluster import Cluster, cluster, cluster_nodes, status_nodes
from test_daemon import wait_until
from test_daemon_lifecycle import SlowReceiver
from test_end_to_end import NEWSWATCH

from crawler.database import make_engine, make_sessionmaker
from crawler.models import Article, Source, Story
from scheduler.models import ScrapydJob

pytestmark = pytest.mark.timeout(600)

OUTLETS = 20
COPIES = 3  # story k is published by outlets k, k+1, k+2 (mod 20)
KEYWORDS = ["Ardmore", "Belgravia", "Carrickfergus", "Dunmanway", "Enniskillen", "Fermoy",
            "Glenariff", "Holyhead", "Inverurie", "Jedburgh", "Kilkeel", "Lochgilphead",
            "Montrose", "Newtownards", "Oban", "Portrush", "Quarrington", "Rothesay",
            "Stranraer", "Tobermory"]
TEMPLATES = ("gazette", "courier", "bulletin")
WORDS = [word for line in (
    "harbour council vote budget ferry port workers union minister road bridge weather",
    "storm coast rail station school hospital nurses doctors farmers market prices fuel",
    "energy wind turbines fishing fleet quota court judge appeal police village mayor",
    "festival museum library river flood defences housing rents tenants landlords airport",
    "runway tourism hotels summer winter report survey figures growth jobs factory",
    "closure talks strike wages pension plan review inquiry",
) for word in line.split()]
HELD = 0  # the outlet whose first feed fetch hangs: the crawl job killed mid-run


def wire_story(k: int) -> list[str]:
    """Story k's paragraphs: its own words (so stories stay apart) and its keyword."""
    chosen = random.Random(k)
    paragraphs = []
    for n in range(4):
        words = [chosen.choice(WORDS) for _ in range(45)]
        words.insert(chosen.randrange(len(words)), KEYWORDS[k])
        paragraphs.append(f"{' '.join(words).capitalize()} (paragraph {n + 1}).")
    return paragraphs


def outlet_copies(outlet: int) -> list[Copy]:
    """What outlet `outlet` publishes: its copy of three wire stories."""
    copies = []
    for offset in range(COPIES):
        k = (outlet - offset) % OUTLETS
        copies.append(Copy(TEMPLATES[offset], f"wire-{k}-at-{outlet}",
                           f"{KEYWORDS[k]}: what happened, as outlet {outlet} tells it",
                           wire_story(k)))
    return copies


class HeldOutlet(SiteServer):
    """An outlet whose first feed request hangs until released: its crawl is mid-way
    for as long as the test needs to find and kill it."""

    def __init__(self, root: Path, host: str) -> None:
        super().__init__(root, host)
        self.held = threading.Event()
        self.released = threading.Event()

    def _handle(self, request: _Handler) -> None:
        if request.path.startswith("/feed") and not self.held.is_set():
            self.held.set()
            self.released.wait(120)
        super()._handle(request)

    def stop(self) -> None:
        self.released.set()
        super().stop()


def write_config(path: Path, database_url: str, feeds: list[str], nodes: list[str]) -> None:
    sources = "".join(f'[[sources]]\nname = "outlet{n:02}"\nurl = "{url}"\nkind = "feed"\n'
                      'interval = "10s"\n\n' for n, url in enumerate(feeds))
    rules = "".join(f'[[rules]]\nname = "watch {word}"\nquery = "{word}"\n'
                    'channels = ["desk"]\n\n' for word in KEYWORDS)
    node_list = ", ".join(f'"{url}"' for url in nodes)
    path.write_text(f"""[storage]
url = "{database_url}"

[crawler]
download_delay = "0s"
crawl_time_limit = "3m"
download_timeout = "2m"

[daemon]
deliver_interval = "1s"
claim_lease = "5s"
heartbeat_interval = "1s"
standby_retry = "1s"

[scrapyd]
nodes = [{node_list}]
batch_size = 5
jobs_per_node = 2
poll_interval = "1s"
node_timeout = "20s"

[channels.desk]
urls = ["${{DESK_URL}}"]

{sources}{rules}""", encoding="utf-8")


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = make_sessionmaker(self.engine)

    def jobs(self) -> list[ScrapydJob]:
        try:
            with self.sessions() as session:
                return list(session.scalars(select(ScrapydJob).order_by(ScrapydJob.started_at)))
        except Exception:
            return []  # no tables yet

    def source_id(self, name: str) -> int | None:
        try:
            with self.sessions() as session:
                return session.scalar(select(Source.id).where(Source.name == name))
        except Exception:
            return None

    def story_sizes(self) -> list[int]:
        with self.sessions() as session:
            return sorted(session.scalars(
                select(func.count(Article.id)).join(Story).group_by(Story.id)).all())


def rule_of(request: Any) -> str:
    """The rule an alert request names in its title ("[watch Oban] …")."""
    match = re.match(r"\[(.+?)\] ", request.json["title"])
    return match.group(1) if match else "?"


def alerted_rules(requests: list) -> Counter[str]:
    return Counter(map(rule_of, requests))


def schedulers(database: Database) -> dict[int, str]:
    """The schedulers' states as `newswatch status` shows them (read in-process)."""
    return {n["pid"]: n["state"] for n in cluster_nodes(database.url)
            if n["role"] == "scheduler"}


def kill(process_id: int) -> None:
    os.kill(process_id, signal.SIGKILL)


def test_a_cluster_killed_in_three_places_sends_every_alert_exactly_once(
    tmp_path: Path, postgres_url: str,
) -> None:
    started = time.monotonic()
    sites: list[SiteServer] = []
    node_dir = tmp_path / "nodes"
    node_dir.mkdir()
    node_environ = {"NEWSWATCH_CONFIG": str(node_dir / "config.toml"),
                    "NEWSWATCH_TREAT_AS_PUBLIC": "127.0.0.2"}
    crawl_nodes = [ScrapydServer(node_dir / f"node{n}", node_environ) for n in (1, 2)]
    database = Database(postgres_url)
    saved = {name: os.environ.pop(name) for name in ("DESK_URL", "NEWSWATCH_DATABASE_URL")
             if name in os.environ}
    try:
        for outlet in range(OUTLETS):
            root = tmp_path / f"outlet{outlet:02}"
            write_outlet(root, outlet_copies(outlet))
            site = (HeldOutlet(root, "127.0.0.2") if outlet == HELD
                    else SiteServer(root, host="127.0.0.2"))
            sites.append(site.start())
        held = sites[HELD]
        assert isinstance(held, HeldOutlet)
        start_all(crawl_nodes)
        config = tmp_path / "config.toml"
        write_config(config, postgres_url, [f"{site.base_url}/feed/" for site in sites],
                     [node.url for node in crawl_nodes])
        # The crawl nodes' own file: the database only; jobs load the published config.
        (node_dir / "config.toml").write_text(f'[storage]\nurl = "{postgres_url}"\n',
                                              encoding="utf-8")

        with SlowReceiver(delay=0.3) as receiver:
            environment = {"DESK_URL": hook_url(receiver)}
            with cluster(environment) as running:
                run_cluster(running, config, environment, receiver, crawl_nodes, held,
                            database)
                took = time.monotonic() - started
                print(f"cluster kill test: {took:.0f}s")
    finally:
        os.environ.update(saved)
        for node in crawl_nodes:
            node.stop()
        for site in sites:
            site.stop()
        database.engine.dispose()


def run_cluster(running: Cluster, config: Path, environment: dict[str, str],
                receiver: SlowReceiver, crawl_nodes: list[ScrapydServer], held: HeldOutlet,
                database: Database) -> None:
    logs_dir = config.parent / "logs"
    logs_dir.mkdir()

    def start(role: str) -> subprocess.Popen[str]:
        log = (logs_dir / f"{role}-{len(running.processes)}.log").open("w")
        process = subprocess.Popen([NEWSWATCH, "--config", str(config), "run", "--role", role],
                                   stdout=subprocess.DEVNULL, stderr=log, text=True,
                                   env=running.environment)
        running.processes.append(process)
        return process

    def logs() -> str:
        return "\n".join(f"--- {path.name}\n{path.read_text()[-4000:]}"
                         for path in sorted(logs_dir.iterdir())) + "\n--- jobs: " + str(
            [(job.node, job.sources, job.state, job.reason) for job in database.jobs()])

    active = start("scheduler")
    assert wait_until(lambda: schedulers(database).get(active.pid) == "active",
                      90), schedulers(database)
    standby = start("scheduler")
    workers = [start("worker") for _ in range(2)]
    assert wait_until(lambda: schedulers(database).get(standby.pid) == "standby",
                      90), schedulers(database)

    # 1. The active scheduler, and 2. right after it, the process of the crawl job that
    # holds the outlet whose feed hangs: only the standby can see that job die.
    assert wait_until(held.held.is_set, 180), logs()
    held_id = database.source_id(f"outlet{HELD:02}")
    [killed_job] = [job for job in database.jobs() if held_id in job.sources]
    node = next(n for n in crawl_nodes if n.url == killed_job.node)
    [entry] = [j for j in node.jobs()["running"] if j["id"] == killed_job.id]
    open_then = {job.id for job in database.jobs() if job.state in ("scheduled", "running")}
    kill(active.pid)
    active.wait(30)
    kill(int(entry["pid"]))
    held.released.set()
    assert wait_until(lambda: schedulers(database).get(standby.pid) == "active",
                      90), schedulers(database)

    # 3. A worker, once alerts flow, aimed between two requests. The worker sends back to
    # back, so its next send can still begin before the kill lands: a send cut short by a
    # kill may reach the receiver twice (no system can tell that from a lost answer).
    assert wait_until(lambda: len(receiver.requests) >= 3, 240), (receiver.requests, logs())
    assert wait_until(lambda: receiver.arrived == len(receiver.requests), 30)
    answered_before_kill = len(receiver.requests)
    kill(workers[0].pid)
    workers[0].wait(30)

    expected = Counter({f"watch {word}": 1 for word in KEYWORDS})
    assert wait_until(lambda: set(alerted_rules(receiver.requests)) >= set(expected), 300), (
        alerted_rules(receiver.requests), [(j.state, j.reason) for j in database.jobs()], logs())
    # The killed job's sources are retried after their backoff: every story then has its
    # three outlets' copies, the held outlet's too, and no copy alerts again.
    assert wait_until(lambda: database.story_sizes() == [COPIES] * OUTLETS, 240), (
        database.story_sizes(), logs())
    # Exactly once, except what the README allows: the one message the killed worker was
    # sending, sent once more. Its first copy is one the receiver had not answered at the
    # kill, or one of the last two it had (one per worker), whose answer the killed worker
    # may not have committed.
    assert not wait_until(lambda: len(receiver.requests) > len(expected) + 1, 10)
    rules_sent = [rule_of(request) for request in receiver.requests]
    repeated = Counter(rules_sent) - expected
    assert set(rules_sent) == set(expected) and sum(repeated.values()) <= 1, rules_sent
    for rule in repeated:
        assert rules_sent.index(rule) >= answered_before_kill - 2, (
            rule, answered_before_kill, rules_sent)
    jobs = database.jobs()
    [dead] = [job for job in jobs if job.id == killed_job.id]
    assert dead.state == "failed" and "ended without finishing" in (dead.reason or "")
    retried = [job for job in jobs if job.started_at > dead.started_at
               and set(dead.sources) & set(job.sources) and job.state == "finished"]
    assert set().union(*(job.sources for job in retried)) >= set(dead.sources)
    # Every crawl open when the scheduler died ended: finished, or (the killed one) failed.
    assert wait_until(lambda: not any(job.state in ("scheduled", "running")
                                      for job in database.jobs() if job.id in open_then), 60)
    assert {job.state for job in database.jobs()
            if job.id in open_then - {dead.id}} <= {"finished"}
    print(f"crawl jobs open when the active scheduler was killed: {len(open_then)}")

    standby_log = (logs_dir / "scheduler-1.log").read_text()
    assert f"crawl job {dead.id} (5 source(s)) failed" in standby_log, logs()

    nodes_now = status_nodes(config, environment)
    states = {n["pid"]: n["state"] for n in nodes_now}
    assert states[standby.pid] == "active"
    assert states[workers[1].pid] == "running"

"""Reloading config.toml in a running daemon (SIGHUP or `newswatch reload`).

The new file is loaded and validated exactly like at start; if it has any problem it is
refused, each problem logged with its file, line and key, and the running config stays.
Otherwise the App's config is swapped in one assignment: the next crawl, match and
delivery use it, so rules added by a reload apply to the articles that arrive after it
(the matcher reads only articles it has not seen). The daemon then re-syncs its jobs.
The database cannot change under a running daemon: that needs a restart.

`signal_daemon` is the other side: it finds the daemon from its `daemon_runs` row and
sends it SIGHUP, refusing when the row names another host or a process that is not a
live newswatch daemon (a recycled pid must never get our signal).
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import sessionmaker

from crawler.models import utcnow
from scheduler.app import App
from scheduler.config import Config, ConfigError, check_channel_urls, load_config
from scheduler.lock import RunningDaemon, latest_run, this_host
from scheduler.models import DaemonRun
from scheduler.renames import follow_renames


@dataclass(frozen=True)
class ConfigChange:
    """What a reload changed, by name."""

    added: dict[str, list[str]] = field(default_factory=dict)
    removed: dict[str, list[str]] = field(default_factory=dict)
    changed: dict[str, list[str]] = field(default_factory=dict)

    def describe(self) -> str:
        parts = []
        for kind in ("sources", "rules", "channels", "settings"):
            bits = [f"+{name}" for name in self.added.get(kind, [])]
            bits += [f"-{name}" for name in self.removed.get(kind, [])]
            bits += [f"~{name}" for name in self.changed.get(kind, [])]
            if bits:
                parts.append(f"{kind} {' '.join(bits)}")
        return "; ".join(parts) or "nothing changed"


def compare_configs(old: Config, new: Config) -> ConfigChange:
    added: dict[str, list[str]] = {}
    removed: dict[str, list[str]] = {}
    changed: dict[str, list[str]] = {}
    sections = {
        "sources": ({s.name: s for s in old.sources}, {s.name: s for s in new.sources}),
        "rules": ({r.name: r for r in old.rules}, {r.name: r for r in new.rules}),
        "channels": (dict(old.channels), dict(new.channels)),
    }
    for kind, (before, after) in sections.items():
        added[kind] = sorted(set(after) - set(before))
        removed[kind] = sorted(set(before) - set(after))
        changed[kind] = sorted(n for n in set(before) & set(after) if before[n] != after[n])
    changed["settings"] = [
        name for name in ("crawler", "defaults", "daemon", "retention", "admin")
        if getattr(old, name) != getattr(new, name)
    ]
    return ConfigChange(added, removed, changed)


def reload_app(app: App, path: Path | None = None) -> ConfigChange:
    """Load the config again and swap it into `app`; raise ConfigError and change nothing
    if the new file is invalid or names another database."""
    loaded = load_config(path or app.loaded.path)
    check_channel_urls(loaded)
    if loaded.database_url != app.loaded.database_url:
        raise ConfigError([
            f"{loaded.path}: storage.url: the database of a running daemon cannot change; "
            "restart the daemon to use another one"
        ])
    change = compare_configs(app.config, loaded.config)
    previous, app.loaded = app.loaded, loaded
    try:
        app.sync_sources()
        follow_renames(app.sessions, loaded.config)
    except Exception:
        app.loaded = previous  # all or nothing: keep running the config we had
        raise
    return change


def record_reload(sessions: sessionmaker, run_id: int, ok: bool, message: str) -> None:
    with sessions.begin() as session:
        session.execute(
            update(DaemonRun).where(DaemonRun.id == run_id)
            .values(reloaded_at=utcnow(), reload_ok=ok, reload_message=message)
        )


class NoDaemon(Exception):
    """There is no daemon this command can signal; the message says why."""


@dataclass(frozen=True)
class ReloadOutcome:
    ok: bool | None  # None: the daemon did not answer in time
    message: str


def signal_daemon(
    sessions: sessionmaker, wait: float = 15.0
) -> tuple[RunningDaemon, ReloadOutcome]:
    """Send SIGHUP to the daemon running on this database and wait for its verdict."""
    with sessions() as session:
        daemon = latest_run(session, running_only=True)
    if daemon is None or not daemon.alive:
        raise NoDaemon("no newswatch daemon is running on this database")
    if daemon.host != this_host():
        raise NoDaemon(f"the daemon runs on host {daemon.host} (pid {daemon.pid}); run "
                       "`newswatch reload` there, or send that process SIGHUP")
    if not _is_newswatch(daemon.pid):
        raise NoDaemon(f"process {daemon.pid} recorded for the daemon is not a running "
                       "newswatch daemon (did it crash?)")
    sent_at = utcnow()
    os.kill(daemon.pid, signal.SIGHUP)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        outcome = _reload_outcome(sessions, daemon.id, sent_at)
        if outcome is not None:
            return daemon, outcome
        time.sleep(0.2)
    return daemon, ReloadOutcome(None, f"sent SIGHUP to pid {daemon.pid}; it has not answered "
                                       f"within {wait:.0f}s (busy?): check its log")


def _reload_outcome(sessions: sessionmaker, run_id: int, after: datetime) -> ReloadOutcome | None:
    with sessions() as session:
        run = session.scalar(select(DaemonRun).where(DaemonRun.id == run_id))
    if run is None or run.reloaded_at is None or run.reloaded_at < after:
        return None
    return ReloadOutcome(bool(run.reload_ok), run.reload_message or "")


def _is_newswatch(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, but another user's: the cmdline check decides
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc here: the live heartbeat has to do
    return b"newswatch" in cmdline or b"scheduler.cli" in cmdline

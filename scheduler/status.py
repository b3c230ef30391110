"""What `newswatch status` reports, read from the database only (so it works beside a
running daemon, on any machine that reaches the database)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Set
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, inspect, select

from alerts.durations import format_duration
from alerts.tables import notifications
from crawler import ledger
from crawler.polling import RATE_WINDOW, publishing_gap
from crawler.tables import articles, crawl_entries, sources, stories, utcnow
from scheduler.lock import RunningDaemon, latest_run
from scheduler.logs import mask_secrets
from scheduler.nodes import NodeStatus, list_nodes

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

DAY = timedelta(days=1)
# How far back publish dates are read to estimate a source's rate (for the explanation).
RATE_LOOKBACK = timedelta(days=60)


@dataclass(frozen=True)
class PollingBounds:
    """A source's configured polling bounds: its interval and max_interval."""

    min_interval: timedelta
    max_interval: timedelta


def polling_bounds(config: Any) -> dict[str, PollingBounds]:
    """Each configured source's polling bounds, by name (`config` is a scheduler Config)."""
    return {
        source.name: PollingBounds(
            config.source_interval(source),
            max(config.source_interval(source),
                source.max_interval or config.crawler.max_poll_interval),
        )
        for source in config.sources
    }


def failing_since(source: Any) -> datetime | None:
    """When a failing source last worked (or was added); None if it is not failing.
    `source` is a `sources` row or a Source."""
    if source.unhealthy_since is None and source.last_error is None:
        return None
    return source.last_success_at or source.created_at


def newest_publish_dates(session: Session | Connection, source_id: int,
                         now: datetime) -> list[datetime]:
    """The publish dates of the source's newest articles, as adaptive polling reads them."""
    return list(session.scalars(
        select(articles.c.published_at)
        .where(articles.c.source_id == source_id, articles.c.published_at.is_not(None),
               articles.c.published_at >= now - RATE_LOOKBACK)
        .order_by(articles.c.published_at.desc()).limit(RATE_WINDOW)
    ))


def describe_polling(source: Any, dates: list[datetime], bounds: PollingBounds | None,
                     now: datetime) -> str:
    """Why the source is polled at its current interval, in one phrase, e.g. "publishes
    about every 3h; polling every 1h30 (min 10m, max 2h)". `source` is a `sources` row
    or a Source."""
    interval = source.poll_interval_seconds
    if not interval:
        return "not polled yet"
    polling = f"polling every {_short(timedelta(seconds=interval))}"
    if bounds is not None:
        polling += (f" (min {_short(bounds.min_interval)}, "
                    f"max {_short(bounds.max_interval)})")
    if source.error_count:
        failures = f"{source.error_count} failure{'s' if source.error_count != 1 else ''}"
        return f"backing off after {failures} in a row; {polling} once it works again"
    gap = publishing_gap(dates, now)
    if gap is None:
        return f"no publish dates to go by; {polling}"
    return f"publishes about every {_short(gap)}; {polling}"


def _short(span: timedelta) -> str:
    """1h30, 10m, 3h, 2d: a polling interval as people say it."""
    seconds = int(span.total_seconds())
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 2 * 86400:
        hours, minutes = divmod(seconds // 60, 60)
        return f"{hours}h{minutes:02d}" if minutes else f"{hours}h"
    return f"{seconds // 86400}d"


@dataclass(frozen=True)
class SourceStatus:
    name: str
    url: str
    configured: bool
    last_polled_at: datetime | None
    last_status: str | None
    last_error: str | None
    error_count: int
    next_poll_at: datetime | None
    failing_since: datetime | None
    # The crawl ledger's count of the source's entries per state (crawler/ledger.py),
    # and the same in words.
    entries: dict[str, int] = field(default_factory=dict)
    entries_note: str = ""
    # Why it polls at its current interval ("publishes about every 3h; polling every ...").
    polling: str = ""
    # Failed polls in a row past `crawler.unhealthy_after_failures` (or marked by a crawl).
    unhealthy: bool = False
    # `paused = true` in the config: not polled, so neither due nor failing.
    paused: bool = False


@dataclass(frozen=True)
class Status:
    now: datetime
    daemon: RunningDaemon | None
    sources: list[SourceStatus] = field(default_factory=list)
    articles_24h: int = 0
    stories_24h: int = 0
    alerts_pending: int = 0
    alerts_failed: int = 0
    alerts_sent_24h: int = 0
    unhealthy_after: int = 5
    nodes: list[NodeStatus] = field(default_factory=list)  # cluster mode only

    @property
    def unhealthy(self) -> list[SourceStatus]:
        return [s for s in self.sources if s.configured and not s.paused and s.unhealthy]

    @property
    def failing(self) -> list[SourceStatus]:
        """Failing, but not (yet) as many times in a row as makes a source unhealthy."""
        return [s for s in self.sources
                if s.configured and not s.paused and not s.unhealthy
                and s.failing_since is not None]


def gather_status(session: Session | Connection, configured: set[str],
                  now: datetime | None = None,
                  max_article_age: timedelta = timedelta(days=3), unhealthy_after: int = 5,
                  bounds: Mapping[str, PollingBounds] | None = None,
                  paused: Set[str] = frozenset()) -> Status:
    """`unhealthy_after` is `crawler.unhealthy_after_failures`; `bounds` the configured
    polling bounds by source name (for the polling explanation); `paused` the names of
    the sources paused in the config. `config_status` passes them all from a config."""
    now = now or utcnow()
    bounds = bounds or {}
    present = inspect(session if isinstance(session, Connection) else session.connection())
    daemon = latest_run(session) if present.has_table("daemon_runs") else None
    cluster = list_nodes(session, now) if present.has_table("nodes") else []
    entries = (ledger.counts_by_source(session, now)
               if present.has_table(crawl_entries.name) else {})
    age = format_duration(max_article_age)
    listed = [
        SourceStatus(
            name=s.name, url=mask_secrets(s.url) or "", configured=s.name in configured,
            last_polled_at=s.last_polled_at, last_status=s.last_status,
            last_error=mask_secrets(s.last_error), error_count=s.error_count or 0,
            next_poll_at=s.next_poll_at, failing_since=failing_since(s),
            entries=dict(entries.get(s.id, {})),
            entries_note=ledger.describe_counts(entries.get(s.id, Counter()), age),
            polling=(describe_polling(s, newest_publish_dates(session, s.id, now),
                                      bounds.get(s.name), now)
                     if s.name in configured and s.name not in paused else ""),
            unhealthy=(s.unhealthy_since is not None
                       or (s.error_count or 0) >= unhealthy_after),
            paused=s.name in paused,
        )
        for s in session.execute(select(sources).order_by(sources.c.name)).all()
    ]
    known = {source.name for source in listed}
    listed += [  # configured, but no daemon has synced them into the database yet
        SourceStatus(name, "", True, None, None, None, 0, None, None, paused=name in paused)
        for name in sorted(configured - known)
    ]

    def count(query: Any) -> int:
        return int(session.scalar(query) or 0)

    return Status(
        now=now,
        unhealthy_after=unhealthy_after,
        daemon=daemon,
        nodes=cluster,
        sources=listed,
        articles_24h=count(select(func.count(articles.c.id))
                           .where(articles.c.first_seen_at >= now - DAY)),
        stories_24h=count(select(func.count(stories.c.id))
                          .where(stories.c.first_seen_at >= now - DAY)),
        alerts_pending=count(select(func.count(notifications.c.id))
                             .where(notifications.c.status == "pending")),
        alerts_failed=count(select(func.count(notifications.c.id))
                            .where(notifications.c.status == "failed")),
        alerts_sent_24h=count(select(func.count(notifications.c.id))
                              .where(notifications.c.status == "sent",
                                     notifications.c.sent_at >= now - DAY)),
    )


def config_status(session: Session | Connection, config: Any,
                  now: datetime | None = None) -> Status:
    """`gather_status` for the sources, limits and pauses of `config` (a scheduler
    Config): what `newswatch status` and the web app show."""
    return gather_status(
        session, {s.name for s in config.sources}, now,
        max_article_age=config.crawler.max_article_age,
        unhealthy_after=config.crawler.unhealthy_after_failures,
        bounds=polling_bounds(config),
        paused={s.name for s in config.sources if s.paused},
    )


def format_status(status: Status) -> str:
    now = status.now
    lines = [f"daemon: {describe_daemon(status.daemon, now)}", ""]
    if status.nodes:
        lines += [*format_nodes(status.nodes, now), ""]
    configured = [s for s in status.sources if s.configured]
    lines.append(f"sources ({len(configured)}):")
    if not configured:
        lines.append("  none configured")
    rows = [("NAME", "LAST POLL", "RESULT", "NEXT POLL")]
    for source in configured:
        result = source.last_status or "-"
        if source.last_error and source.last_error != source.last_status:
            result = f"{result}: {source.last_error}"
        rows.append((source.name, ago(source.last_polled_at, now), _clip(result, 60),
                     "paused" if source.paused else until(source.next_poll_at, now)))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    if configured:
        for row in rows:
            lines.append("  " + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:3]))
                         + "  " + row[3])
    polled = [s for s in configured if s.polling]
    if polled:
        lines.append("")
        lines.append("polling:")
        for source in polled:
            lines.append(f"  {source.name}: {source.polling}")
    noted = [s for s in configured if s.entries_note]
    if noted:
        lines.append("")
        lines.append("article pages:")
        for source in noted:
            lines.append(f"  {source.name}: {source.entries_note}")
    removed = [s.name for s in status.sources if not s.configured]
    if removed:
        lines.append(f"  no longer in the config (kept, not polled): {', '.join(removed)}")
    lines.append("")
    unhealthy = status.unhealthy
    lines.append(f"unhealthy sources: {len(unhealthy) or 'none'}")
    for source in unhealthy:
        lines.append(f"  {source.name}: failing since {_stamp(source.failing_since)} "
                     f"({_count(source.error_count, 'failed poll')} in a row): "
                     f"{_clip(source.last_error or '', 80)}")
    for source in status.failing:
        lines.append(f"  {source.name} is failing ({_count(source.error_count, 'failed poll')} "
                     f"in a row; unhealthy after {status.unhealthy_after}): "
                     f"{_clip(source.last_error or '', 80)}")
    lines.append("")
    lines.append(f"last 24 h: {_count(status.articles_24h, 'new article')}, "
                 f"{_count(status.stories_24h, 'new story', 'new stories')}, "
                 f"{_count(status.alerts_sent_24h, 'alert')} sent")
    lines.append(f"alerts: {status.alerts_pending} pending, {status.alerts_failed} failed")
    return "\n".join(lines)


def format_nodes(cluster: list[NodeStatus], now: datetime) -> list[str]:
    """The cluster's nodes: role, host and pid, state (gone after a minute of silence),
    last heartbeat, and what each is doing."""
    lines = [f"nodes ({len(cluster)}):"]
    rows = [("ROLE", "HOST", "PID", "STATE", "HEARTBEAT", "JOBS")]
    for node in cluster:
        jobs = ", ".join(f"{key} {value}" for key, value in node.doing.items())
        rows.append((node.role, node.host, str(node.pid), node.condition(now),
                     ago(node.heartbeat_at, now), jobs or "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for row in rows:
        lines.append("  " + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:5]))
                     + "  " + row[5])
    return lines


def node_json(node: NodeStatus, now: datetime) -> dict[str, Any]:
    return {"role": node.role, "host": node.host, "pid": node.pid,
            "state": node.condition(now), "started_at": _iso(node.started_at),
            "heartbeat_at": _iso(node.heartbeat_at), "stopped_at": _iso(node.stopped_at),
            "jobs": node.doing}


def status_json(status: Status) -> dict[str, Any]:
    daemon = status.daemon
    return {
        "daemon": None if daemon is None else {
            "running": daemon.alive, "pid": daemon.pid, "host": daemon.host,
            "started_at": _iso(daemon.started_at), "heartbeat_at": _iso(daemon.heartbeat_at),
            "stopped_at": _iso(daemon.stopped_at), "stopped_cleanly": daemon.stopped_cleanly,
        },
        "sources": [
            {"name": s.name, "url": s.url, "configured": s.configured,
             "last_polled_at": _iso(s.last_polled_at), "last_status": s.last_status,
             "last_error": s.last_error, "error_count": s.error_count,
             "next_poll_at": _iso(s.next_poll_at), "failing_since": _iso(s.failing_since),
             "entries": s.entries, "polling": s.polling, "unhealthy": s.unhealthy,
             "paused": s.paused}
            for s in status.sources
        ],
        "unhealthy": [s.name for s in status.unhealthy],
        "unhealthy_after_failures": status.unhealthy_after,
        "last_24h": {"articles": status.articles_24h, "stories": status.stories_24h,
                     "alerts_sent": status.alerts_sent_24h},
        "alerts": {"pending": status.alerts_pending, "failed": status.alerts_failed},
        "nodes": [node_json(node, status.now) for node in status.nodes],
    }


def describe_daemon(daemon: RunningDaemon | None, now: datetime) -> str:
    if daemon is None:
        return "never run on this database"
    if daemon.alive:
        return (f"running since {_stamp(daemon.started_at)} ({ago(daemon.started_at, now)}), "
                f"pid {daemon.pid} on {daemon.host}, last heartbeat "
                f"{ago(daemon.heartbeat_at, now)}")
    if daemon.stopped_at is None:
        return (f"not running: pid {daemon.pid} on {daemon.host} went silent "
                f"{ago(daemon.heartbeat_at, now)} without stopping (killed or crashed)")
    how = "cleanly" if daemon.stopped_cleanly else "uncleanly (killed or crashed)"
    return (f"not running; last stopped {_stamp(daemon.stopped_at)} "
            f"({ago(daemon.stopped_at, now)}), {how}")


def ago(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "never"
    return f"{_span(now - moment)} ago" if moment <= now else f"in {_span(moment - now)}"


def until(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "as soon as the daemon runs"
    return "due now" if moment <= now else f"in {_span(moment - now)}"


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 90:
        return f"{seconds}s"
    if seconds < 90 * 60:
        return f"{seconds // 60}m"
    if seconds < 48 * 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d"


def _stamp(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC" if moment else "-"


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _count(number: int, singular: str, plural: str | None = None) -> str:
    """1 new article, 2 new articles, 1 new story, 2 new stories."""
    return f"{number} {singular if number == 1 else plural or singular + 's'}"

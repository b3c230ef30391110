"""What the pages and the API do, in one place, on the same functions as the CLI.

Reads come from the database (scheduler.status, alerts.history, alerts.backtest) and from
config.toml; every change goes through scheduler.config_file (comments kept, the whole
new config validated, refused with `config check`'s messages) and is then applied by
asking the running daemon to reload (scheduler.reload), exactly like `newswatch reload`.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from alerts.backtest import backtest_stories
from alerts.channels import DEFAULT_RETRY_PERIOD, channel_from_settings
from alerts.documents import article_document
from alerts.durations import format_duration, parse_duration
from alerts.highlight import snippet_spans
from alerts.history import alert_history, requeue
from alerts.query import parse_query
from alerts.render import sample_message
from crawler.models import Article, Source, Story, utcnow
from crawler.urls import site_of
from scheduler.app import App
from scheduler.commands.stories import recent_stories
from scheduler.config import LoadedConfig, check_channel_urls, load_config
from scheduler.config_file import (
    append_entry,
    remove_entry,
    remove_table,
    set_table,
    update_entry,
)
from scheduler.logs import mask_secrets
from scheduler.reload import NoDaemon, signal_daemon
from scheduler.renames import remember_name
from scheduler.status import config_status, status_json

RELOAD_WAIT = 10.0
PREVIEW_LIMIT = 50


class NotFound(LookupError):
    """No such source, rule, channel, story, article or alert."""


@dataclass(frozen=True)
class Applied:
    """What became of a change: saved in config.toml, and what the daemon said."""

    saved: bool
    reload: str

    def as_json(self) -> dict[str, Any]:
        return {"saved": self.saved, "reload": self.reload}


def ask_daemon_to_reload(app: App) -> str:
    """Tell the daemon on this database to re-read config.toml (`newswatch reload`)."""
    try:
        daemon, outcome = signal_daemon(app.sessions, RELOAD_WAIT)
    except NoDaemon as error:
        return f"{error}: the change applies when it starts"
    if outcome.ok:
        return f"daemon pid {daemon.pid} reloaded its config: {outcome.message}"
    if outcome.ok is None:
        return outcome.message
    return f"the daemon refused the new config: {outcome.message}"


class Service:
    """One per web app: the config file, the database, and how changes are applied."""

    def __init__(self, config_file: Path, app: App,
                 reloader: Callable[[App], str] = ask_daemon_to_reload) -> None:
        self.config_file = config_file
        self.app = app
        self.reloader = reloader
        self._loaded = app.loaded
        self._mtime: float | None = None  # read the file at first use: it may have changed

    # -- the config file ---------------------------------------------------------------

    def _file_mtime(self) -> float:
        try:
            return self.config_file.stat().st_mtime_ns
        except OSError:
            return 0

    @property
    def loaded(self) -> LoadedConfig:
        """config.toml as it is now (read again when it changed on disk)."""
        mtime = self._file_mtime()
        if mtime != self._mtime:
            self._loaded, self._mtime = load_config(self.config_file), mtime
        return self._loaded

    def _applied(self, loaded: LoadedConfig) -> Applied:
        self._loaded, self._mtime = loaded, self._file_mtime()
        return Applied(True, self.reloader(self.app))

    # -- status and sources --------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        with self.app.sessions() as session:
            return status_json(config_status(session, self.loaded.config))

    def sources(self) -> list[dict[str, Any]]:
        config = self.loaded.config
        with self.app.sessions() as session:
            report = config_status(session, config)
            rows = {row.name: row for row in session.scalars(select(Source))}
        notes = {s.name: s.entries_note for s in report.sources}
        states = {s["name"]: s for s in status_json(report)["sources"]}
        listed = []
        for source in config.sources:
            state = states.get(source.name, {})
            row = rows.get(source.name)
            listed.append({
                "name": source.name,
                "url": mask_secrets(source.url),
                "kind": source.kind,
                "detected_kind": row.kind if row else None,
                "polled_url": mask_secrets(row.resolved_url) if row else None,
                "interval": format_duration(config.source_interval(source)),
                "last_polled_at": state.get("last_polled_at"),
                "last_status": state.get("last_status"),
                "last_error": state.get("last_error"),
                "error_count": state.get("error_count", 0),
                "failing_since": state.get("failing_since"),
                "next_poll_at": state.get("next_poll_at"),
                "next_poll_why": ("paused" if source.paused
                                  else state.get("polling") or "not polled yet"),
                "entries": state.get("entries", {}),
                # In words, as `newswatch sources` says it: "3 entries older than 3d
                # skipped", "2 pages to retry".
                "entries_note": notes.get(source.name, ""),
                "healthy": not state.get("unhealthy", False),
                "paused": source.paused,
            })
        return listed

    def preview_source(self, url: str, kind: str = "auto") -> dict[str, Any]:
        """Fetch `url` once, as `sources add` does, and say what it is."""
        from scheduler.commands.sources import _preview
        from scheduler.config import SourceConfig

        loaded = self.loaded
        candidate = SourceConfig(name="preview", url=url, kind=kind)
        preview = _preview(loaded.config, candidate, loaded.path.resolve().parent)
        preview = dict(preview)
        if preview.get("error"):
            preview["error"] = mask_secrets(preview["error"])
        return preview

    def add_source(self, entry: Mapping[str, Any]) -> Applied:
        return self._applied(append_entry(self.config_file, "sources", _present(entry)))

    def update_source(self, name: str, changes: Mapping[str, Any]) -> Applied:
        return self._edit("sources", name, changes)

    def remove_source(self, name: str) -> Applied:
        return self._remove("sources", name)

    def set_paused(self, array: str, name: str, paused: bool) -> Applied:
        """Pause or resume a source or rule: the `paused` key of issue 15's
        `sources/rules pause|resume` (refused by the config check where it is unknown)."""
        return self._edit(array, name, {"paused": True if paused else None})

    # -- rules --------------------------------------------------------------------------

    def rules(self) -> list[dict[str, Any]]:
        return [rule.model_dump(mode="json") for rule in self.loaded.config.rules]

    def rule(self, name: str) -> dict[str, Any]:
        for rule in self.loaded.config.rules:
            if rule.name == name:
                return rule.model_dump(mode="json")
        raise NotFound(f"no rule named {name!r}")

    def add_rule(self, entry: Mapping[str, Any]) -> Applied:
        """Add a rule with a stable id (renaming it later keeps its history)."""
        entry = {"name": entry.get("name"), "id": new_stable_id(), **_present(entry)}
        return self._applied(append_entry(self.config_file, "rules", entry))

    def update_rule(self, name: str, changes: Mapping[str, Any]) -> Applied:
        """Change a rule; a new `name` is a rename that keeps the rule's alert history: the
        rule gets a stable id if it had none, and its current name is remembered for it,
        so the daemon moves the history when it loads the renamed rule."""
        changes = dict(changes)
        if changes.get("name") not in (None, name):
            current = self.rule(name)
            stable_id = current.get("id") or new_stable_id()
            with self.app.sessions.begin() as session:
                remember_name(session, "rule", stable_id, name)
            changes["id"] = stable_id
        return self._edit("rules", name, changes)

    def remove_rule(self, name: str) -> Applied:
        return self._remove("rules", name)

    def preview(self, query: str, since: str = "30d", limit: int = PREVIEW_LIMIT,
                sources: list[str] | None = None,
                languages: list[str] | None = None) -> list[dict[str, Any]]:
        """The stories `query` would have alerted on since `since` (`rules test`), with a
        rule's source and language filters: its matched words as spans of a snippet, and
        which terms matched in which field. QueryError or ValueError for a bad query or
        duration."""
        parsed = parse_query(query)
        start = utcnow() - parse_duration(since)
        with self.app.sessions() as session:
            stories = backtest_stories(
                session, parsed, start, limit,
                frozenset(sources) if sources else None,
                frozenset(code.lower() for code in languages) if languages else None)
            return [_story_preview(story) for story in stories]

    # -- stories, articles, alerts -------------------------------------------------------

    def stories(self, since: str = "24h", rule: str | None = None) -> list[dict[str, Any]]:
        start = utcnow() - parse_duration(since)
        with self.app.sessions() as session:
            return [
                {"id": line.id, "headline": line.headline, "outlets": line.outlets,
                 "articles": line.articles, "first_seen_at": _iso(line.first_seen_at)}
                for line in recent_stories(session, start, rule)
            ]

    def story(self, story_id: int) -> dict[str, Any]:
        with self.app.sessions() as session:
            story = session.get(Story, story_id,
                                options=[selectinload(Story.articles).joinedload(Article.source)])
            if story is None:
                raise NotFound(f"no story {story_id}")
            articles = sorted(story.articles, key=lambda a: a.first_seen_at)
            return {
                "id": story.id, "headline": story.headline,
                "first_seen_at": _iso(story.first_seen_at),
                "last_seen_at": _iso(story.last_seen_at),
                "outlets": sorted({site_of(a.url) for a in articles}),
                "articles": [_article(a, body=False) for a in articles],
            }

    def article(self, article_id: int) -> dict[str, Any]:
        with self.app.sessions() as session:
            article = session.get(Article, article_id)
            if article is None:
                raise NotFound(f"no article {article_id}")
            return _article(article, body=True)

    def articles(self, since: str = "24h", limit: int = 50) -> list[dict[str, Any]]:
        start = utcnow() - parse_duration(since)
        with self.app.sessions() as session:
            rows = session.scalars(
                select(Article).where(Article.first_seen_at >= start)
                .order_by(Article.first_seen_at.desc(), Article.id.desc()).limit(limit)
            )
            return [_article(article, body=False) for article in rows]

    def alerts(self, status: str | None = None, channel: str | None = None,
               rule: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        with self.app.sessions() as session:
            lines = alert_history(session, status, limit, channel=channel, rule=rule)
        return [
            {"id": line.id, "status": line.status, "channel": line.channel, "rule": line.rule,
             "headline": line.headline, "link": line.link,
             "created_at": _iso(line.created_at), "sent_at": _iso(line.sent_at),
             "attempts": line.attempts, "last_error": mask_secrets(line.last_error),
             "held": line.held, "next_attempt_at": _iso(line.next_attempt_at),
             "digest_size": line.digest_size,
             "url_attempts": [
                 {"at": _iso(a.attempted_at), "url": a.url, "ok": a.ok,
                  "error": mask_secrets(a.error)}
                 for a in line.url_attempts
             ]}
            for line in lines
        ]

    def retry(self, ids: list[int] | None) -> dict[str, list[int]]:
        """Requeue failed alerts (all of them when `ids` is None), as `alerts retry`."""
        channels = self.loaded.config.channels

        def retry_period(name: str) -> timedelta:
            channel = channels.get(name)
            return channel.retry_for if channel else DEFAULT_RETRY_PERIOD

        with self.app.sessions.begin() as session:
            results = requeue(session, ids, utcnow(), retry_period)
        outcome: dict[str, list[int]] = {"requeued": [], "not_failed": [], "missing": []}
        for result in results:
            key = {"requeued": "requeued", "missing": "missing"}.get(result.outcome,
                                                                    "not_failed")
            outcome[key].append(result.id)
        return outcome

    # -- channels ------------------------------------------------------------------------

    def channels(self) -> list[dict[str, Any]]:
        from alerts.apprise_urls import redact

        listed = []
        for name, settings in self.loaded.config.channels.items():
            shown = settings.model_dump(mode="json")
            shown["urls"] = [redact(url) for url in settings.urls]  # never the secrets
            listed.append({"name": name, **shown})
        return listed

    def add_channel(self, name: str, settings: Mapping[str, Any]) -> Applied:
        """Add `[channels.NAME]` with a stable id; its URLs are checked like `config
        check` does. ValueError if the name is taken."""
        if name in self.loaded.config.channels:
            raise ValueError(f"a channel named {name!r} exists already")
        entry = {"id": "c" + secrets.token_hex(4), **_present(settings)}
        return self._applied(set_table(self.config_file, "channels", name, entry,
                                       check=check_channel_urls))

    def remove_channel(self, name: str) -> Applied:
        """Remove a channel; refused (config check's message) while a rule names it."""
        try:
            loaded = remove_table(self.config_file, "channels", name)
        except KeyError:
            raise NotFound(f"no channel named {name!r}") from None
        return self._applied(loaded)

    def update_channel(self, name: str, changes: Mapping[str, Any]) -> Applied:
        return self._edit("channels", name, changes)

    def test_channel(self, name: str) -> list[dict[str, Any]]:
        """Send a sample alert to each URL of the channel (`alerts test`)."""
        from alerts.delivery import redact, send_to_url

        settings = self.loaded.config.channels.get(name)
        if settings is None:
            raise NotFound(f"no channel {name!r}")
        target = channel_from_settings(name, settings)
        message = sample_message(target)
        results = []
        for url in target.urls:
            result = send_to_url(url, message)
            results.append({"url": redact(url), "ok": result.ok, "error": result.error})
        return results

    # -- editing -----------------------------------------------------------------------

    def _edit(self, array: str, name: str, changes: Mapping[str, Any]) -> Applied:
        try:
            loaded = update_entry(self.config_file, array, name, dict(changes),
                                  check=check_channel_urls if array == "channels" else None)
        except KeyError:
            raise NotFound(f"no {array.rstrip('s')} named {name!r}") from None
        return self._applied(loaded)

    def _remove(self, array: str, name: str) -> Applied:
        try:
            loaded = remove_entry(self.config_file, array, name)
        except KeyError:
            raise NotFound(f"no {array.rstrip('s')} named {name!r}") from None
        return self._applied(loaded)


def new_stable_id() -> str:
    return "r" + secrets.token_hex(4)


def _present(entry: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in entry.items() if value not in (None, [], "")}


def _story_preview(story: Any) -> dict[str, Any]:
    first = story.first
    article = first.article
    text, spans = snippet_spans(article_document(article), first.hits)
    return {
        "story_id": article.story_id,
        "article_id": article.id,
        "headline": article.title,
        "url": article.url,
        "source": article.source_name,
        "when": _iso(article.published_at or article.first_seen_at),
        "outlets": story.outlets,
        "snippet": text,
        "highlights": [list(span) for span in spans],
        # Which of the query's terms matched, in the title or the body (or another field).
        "clauses": [{"term": term, "field": field}
                    for term, field in dict.fromkeys((h.term, h.field) for h in first.hits)],
    }


def _article(article: Article, body: bool) -> dict[str, Any]:
    shown = {
        "id": article.id, "story_id": article.story_id, "url": article.url,
        "title": article.title, "source": article.source.name if article.source else None,
        "outlet": site_of(article.url), "authors": list(article.authors or []),
        "language": article.language, "published_at": _iso(article.published_at),
        "first_seen_at": _iso(article.first_seen_at), "version": article.version,
        "from_feed": article.from_feed,
    }
    if body:
        shown["body"] = article.body
    return shown


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None

"""`newswatch rules` and `newswatch search`: write, check and try rules."""

from __future__ import annotations

import sys
import tomllib
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import click

from scheduler.commands.common import (
    Context,
    duration_option,
    echo_json,
    fail,
    json_option,
    opened_app,
    pass_context,
    plural,
    print_table,
    reports_errors,
    set_paused,
)

if TYPE_CHECKING:
    from alerts.backtest import Found


def _parsed(query: str) -> object:
    from alerts.query import QueryError, parse_query

    try:
        return parse_query(query)
    except QueryError as error:
        fail(f"invalid query: {error}\n  {query}\n  {' ' * error.position}^", code=2)
        raise  # unreachable: fail() exits


@click.group()
def rules() -> None:
    """List, add, remove, check and try rules.

    A rule is a query in a search-engine syntax (see the README): bare words must all
    occur, in any order and any inflection; "quoted phrases", OR, NOT/-word, (groups),
    NEAR/n, prefix*, and title:/body:/author:/source:/url:/lang: scopes.
    """


@rules.command("list")
@json_option()
@pass_context
@reports_errors
def rules_list(ctx: Context, as_json: bool) -> None:
    """Show every rule in the config: name, query, channels, filters, and whether paused.

    Example: newswatch rules list
    """
    config = ctx.load().config
    if as_json:
        for rule in config.rules:
            echo_json({"name": rule.name, "query": rule.query, "channels": rule.channels,
                       "sources": rule.sources, "languages": rule.languages,
                       "min_outlets": rule.min_outlets, "paused": rule.paused})
        return
    if not config.rules:
        click.echo('No rules. Add one with: newswatch rules add NAME "QUERY"')
        return
    rows = []
    for rule in config.rules:
        filters = []
        if rule.sources:
            filters.append(f"sources: {', '.join(rule.sources)}")
        if rule.languages:
            filters.append(f"languages: {', '.join(rule.languages)}")
        if rule.min_outlets > 1:
            filters.append(f"at least {rule.min_outlets} outlets")
        name = f"{rule.name} (paused)" if rule.paused else rule.name
        rows.append([name, rule.query, ", ".join(rule.channels), "; ".join(filters) or "-"])
    print_table(["NAME", "QUERY", "CHANNELS", "ONLY"], rows, wide=(1,))
    paused = sum(rule.paused for rule in config.rules)
    click.echo(plural(len(config.rules), "rule") + (f", {paused} paused" if paused else ""))


@rules.command("add")
@click.argument("name")
@click.argument("query")
@click.option("--channel", "channels", multiple=True,
              help="Channel to alert (repeatable). Default: the only channel, if there is one.")
@click.option("--source", "sources", multiple=True, help="Only articles from this source.")
@click.option("--language", "languages", multiple=True, help="Only articles in this language.")
@click.option("--min-outlets", type=click.IntRange(1, 100), default=None,
              help="Alert only once this many outlets carry the story.")
@pass_context
@reports_errors
def rules_add(ctx: Context, name: str, query: str, channels: tuple[str, ...],
              sources: tuple[str, ...], languages: tuple[str, ...],
              min_outlets: int | None) -> None:
    """Add a rule to the config file (its comments and layout are kept).

    The rule applies to articles that arrive from now on; use `rules test` to see what it
    would have found in the past. A running daemon picks it up on reload.

    Example: newswatch rules add "Putin in Pyongyang" "Putin visit Pyongyang" --channel desk
    """
    from scheduler.config_file import append_entry

    _parsed(query)
    config = ctx.load().config
    if any(rule.name == name for rule in config.rules):
        fail(f"a rule named {name!r} exists already", code=2)
    if not channels:
        if not config.channels:
            fail("a rule needs a channel to alert, and the config has none: add one with "
                 "`newswatch channels add NAME APPRISE_URL` (e.g. log:// for the daemon's "
                 "log), then add the rule", code=2)
        if len(config.channels) > 1:
            fail(f"say which channel with --channel (one of: {', '.join(config.channels)})",
                 code=2)
        channels = tuple(config.channels)
    unknown = [channel for channel in channels if channel not in config.channels]
    if unknown:
        fail(f"unknown channel {unknown[0]!r} (channels: {', '.join(config.channels)}); "
             "add one with `newswatch channels add NAME APPRISE_URL`", code=2)
    entry = {
        "name": name,
        "query": query,
        "channels": list(channels),
        "sources": list(sources) or None,
        "languages": list(languages) or None,
        "min_outlets": min_outlets,
    }
    append_entry(ctx.config_file, "rules", entry)
    import shlex

    click.echo(f"Added rule {name!r} to {ctx.config_file}. See what it would have alerted "
               f"on among the stored articles with: newswatch rules test {shlex.quote(query)}")


@rules.command("remove")
@click.argument("name")
@pass_context
@reports_errors
def rules_remove(ctx: Context, name: str) -> None:
    """Remove a rule from the config file (its past matches and alerts are kept).

    Example: newswatch rules remove "Putin in Pyongyang"
    """
    from scheduler.config_file import remove_entry

    try:
        remove_entry(ctx.config_file, "rules", name)
    except KeyError:
        fail(f"no rule named {name!r} in {ctx.config_file}", code=2)
    click.echo(f"Removed rule {name!r} from {ctx.config_file}.")


@rules.command("pause")
@click.argument("name")
@pass_context
@reports_errors
def rules_pause(ctx: Context, name: str) -> None:
    """Stop alerting on the rule NAME without removing it (`paused = true` in the config).

    Example: newswatch rules pause "Putin in Pyongyang"
    """
    set_paused(ctx, "rules", name, True, "it matches nothing")


@rules.command("resume")
@click.argument("name")
@pass_context
@reports_errors
def rules_resume(ctx: Context, name: str) -> None:
    """Match the paused rule NAME against new articles again.

    Example: newswatch rules resume "Putin in Pyongyang"
    """
    set_paused(ctx, "rules", name, False, "it matches new articles again")


@rules.command("check")
@pass_context
def rules_check(ctx: Context) -> None:
    """Check every rule's query; show where an invalid one goes wrong.

    Exits 0 when all rules are valid, 2 otherwise.

    Example: newswatch rules check
    """
    from alerts.query import QueryError, format_query, parse_query

    try:
        raw = tomllib.loads(ctx.config_file.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        fail(f"cannot read {ctx.config_file}: {error}", code=2)
        return
    entries = raw.get("rules", [])
    bad = 0
    for index, entry in enumerate(entries if isinstance(entries, list) else []):
        name = entry.get("name", f"rules[{index}]") if isinstance(entry, dict) else index
        query = entry.get("query") if isinstance(entry, dict) else None
        if not isinstance(query, str):
            click.echo(f"error  {name}: no query")
            bad += 1
            continue
        try:
            parsed = parse_query(query)
        except QueryError as error:
            bad += 1
            click.echo(f"error  {name}: {error}\n       {query}\n       {' ' * error.position}^")
            continue
        click.echo(f"ok     {name}: {format_query(parsed)}")
    click.echo(f"{plural(len(entries), 'rule')}, {bad} invalid")
    sys.exit(2 if bad else 0)


@rules.command("test")
@click.argument("query")
@click.option("--since", default="30d", show_default=True, callback=duration_option,
              help="How far back to look, e.g. 24h, 30d.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True,
              help="Show at most this many stories.")
@json_option()
@pass_context
@reports_errors
def rules_test(ctx: Context, query: str, since: timedelta, limit: int, as_json: bool) -> None:
    """Backtest a query on stored articles: the stories it would have alerted on.

    Each story shows its id (for `newswatch stories show`), when it was published, its
    outlets, the headline and an excerpt with the matched words in [brackets], and a link.

    Example: newswatch rules test "Putin visit Pyongyang" --since 7d
    """
    from alerts.backtest import backtest_stories
    from crawler.tables import utcnow

    parsed = _parsed(query)
    with opened_app(ctx, sync=False) as app, app.engine.connect() as connection:
        stories = backtest_stories(connection, parsed, utcnow() - since, limit)
        for story in stories:
            first = story.first
            article = first.article
            outlets = story.outlets
            if as_json:
                echo_json({
                    "story_id": article.story_id, "article_id": article.id,
                    "published": _moment(first).isoformat(), "title": article.title,
                    "url": article.url, "source": article.source_name, "outlets": outlets,
                    "snippet": _highlighted(first),
                })
                continue
            story = f"story {article.story_id}" if article.story_id else f"article {article.id}"
            click.echo(f"{story} · {_when(first)} · {plural(len(outlets), 'outlet')}: "
                       f"{', '.join(outlets)}")
            click.echo(f"  {_marked_title(first)}")
            click.echo(f"  {article.url}")
            click.echo(f"  {_highlighted(first)}")
            click.echo("")
    if not as_json:
        click.echo(f"{plural(len(stories), 'story', 'stories')} would have alerted"
                   + (f" (limit {limit} reached)" if len(stories) >= limit else ""))


@click.command()
@click.argument("query")
@click.option("--since", default=None, callback=duration_option,
              help="Only articles first seen within this long, e.g. 7d.")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True,
              help="Show at most this many articles.")
@json_option()
@pass_context
@reports_errors
def search(ctx: Context, query: str, since: timedelta | None, limit: int, as_json: bool) -> None:
    """Search stored articles with the rule language, newest first (by publish time, else
    the time newswatch first saw them).

    Example: newswatch search '"Kim Jong Un" NOT sport' --since 30d
    """
    import heapq

    from alerts.backtest import find_matching
    from crawler.tables import utcnow

    parsed = _parsed(query)
    with opened_app(ctx, sync=False) as app, app.engine.connect() as connection:
        start = utcnow() - since if since is not None else None
        matching = find_matching(connection, parsed, since=start)
        newest = heapq.nlargest(limit + 1, matching,
                                key=lambda found: (_moment(found), found.article.id))
        more = len(newest) > limit
        for found in newest[:limit]:
            article = found.article
            if as_json:
                echo_json({
                    "id": article.id, "story_id": article.story_id, "url": article.url,
                    "title": article.title, "source": article.source_name,
                    "published": article.published_at.isoformat() if article.published_at
                    else None,
                    "snippet": _highlighted(found),
                })
                continue
            click.echo(f"{_when(found)}  {article.source_name}  {_marked_title(found)}"
                       f"  (article {article.id})\n    {article.url}\n    {_highlighted(found)}")
    if not as_json:
        shown = min(len(newest), limit)
        click.echo(plural(shown, "article") + (f" (the newest {limit}; more match)"
                                                if more else ""))


def _moment(found: Found) -> datetime:
    return found.article.published_at or found.article.first_seen_at


def _when(found: Found) -> str:
    return f"{_moment(found):%Y-%m-%d %H:%M}"


def _mark(text: str, spans: list[tuple[int, int]]) -> str:
    pieces, last = [], 0
    for start, end in sorted(spans):
        if start < last:
            continue  # overlapping hits: the first one's brackets cover it
        pieces += [text[last:start], "[", text[start:end], "]"]
        last = end
    pieces.append(text[last:])
    return "".join(pieces)


def _marked_title(found: Found) -> str:
    """The headline with the words the query matched in it in [brackets]."""
    return _mark(found.article.title,
                 [(hit.start, hit.end) for hit in found.hits if hit.field == "title"])


def _highlighted(found: Found) -> str:
    from alerts.documents import article_document
    from alerts.highlight import snippet_spans

    excerpt, spans = snippet_spans(article_document(found.article), found.hits)
    return _mark(excerpt, list(spans))

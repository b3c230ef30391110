"""`newswatch rules` and `newswatch search`: write, check and try rules."""

from __future__ import annotations

import json
import sys
import tomllib
from datetime import timedelta

import click

from alerts.backtest import Found, backtest_stories, find_matching
from alerts.durations import parse_duration
from alerts.highlight import snippet_spans
from alerts.matching import article_document
from alerts.query import QueryError, format_query, parse_query
from crawler.models import utcnow
from scheduler.commands.common import Context, fail, opened_app, pass_context, reports_errors
from scheduler.config_file import append_entry, remove_entry


def _duration(_ctx: click.Context, _param: click.Parameter, value: str | None) -> timedelta | None:
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


def _parsed(query: str) -> object:
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
@pass_context
@reports_errors
def rules_list(ctx: Context) -> None:
    """Show every rule in the config: name, query, channels and filters.

    Example: newswatch rules list
    """
    config = ctx.load().config
    if not config.rules:
        click.echo("no rules: add one with  newswatch rules add NAME QUERY")
        return
    for rule in config.rules:
        filters = []
        if rule.sources:
            filters.append(f"sources: {', '.join(rule.sources)}")
        if rule.languages:
            filters.append(f"languages: {', '.join(rule.languages)}")
        if rule.min_outlets > 1:
            filters.append(f"at least {rule.min_outlets} outlets")
        click.echo(f"{rule.name}\n  query:    {rule.query}\n  channels: {', '.join(rule.channels)}")
        if filters:
            click.echo(f"  only:     {'; '.join(filters)}")


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
    _parsed(query)
    config = ctx.load().config
    if any(rule.name == name for rule in config.rules):
        fail(f"a rule named {name!r} exists already", code=2)
    if not channels:
        if len(config.channels) != 1:
            fail("say which channel with --channel (the config has "
                 f"{len(config.channels)} channels)", code=2)
        channels = tuple(config.channels)
    entry = {
        "name": name,
        "query": query,
        "channels": list(channels),
        "sources": list(sources) or None,
        "languages": list(languages) or None,
        "min_outlets": min_outlets,
    }
    append_entry(ctx.config_file, "rules", entry)
    click.echo(f"added rule {name!r} to {ctx.config_file}")


@rules.command("remove")
@click.argument("name")
@pass_context
@reports_errors
def rules_remove(ctx: Context, name: str) -> None:
    """Remove a rule from the config file (its past matches and alerts are kept).

    Example: newswatch rules remove "Putin in Pyongyang"
    """
    try:
        remove_entry(ctx.config_file, "rules", name)
    except KeyError:
        fail(f"no rule named {name!r} in {ctx.config_file}", code=2)
    click.echo(f"removed rule {name!r} from {ctx.config_file}")


@rules.command("check")
@pass_context
def rules_check(ctx: Context) -> None:
    """Check every rule's query; show where an invalid one goes wrong.

    Exits 0 when all rules are valid, 2 otherwise.

    Example: newswatch rules check
    """
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
    click.echo(f"{len(entries)} rules, {bad} invalid")
    sys.exit(2 if bad else 0)


@rules.command("test")
@click.argument("query")
@click.option("--since", default="30d", show_default=True, callback=_duration,
              help="How far back to look, e.g. 24h, 30d.")
@click.option("--limit", default=50, show_default=True, help="Show at most this many stories.")
@pass_context
@reports_errors
def rules_test(ctx: Context, query: str, since: timedelta, limit: int) -> None:
    """Backtest a query on stored articles: the stories it would have alerted on.

    Matched words are shown in [brackets].

    Example: newswatch rules test "Putin visit Pyongyang" --since 7d
    """
    parsed = _parsed(query)
    with opened_app(ctx, sync=False) as app, app.sessions() as session:
        stories = backtest_stories(session, parsed, utcnow() - since, limit)
        for story in stories:
            first, outlets = story.first, story.outlets
            click.echo(f"{_when(first)}  {first.article.title}  ({len(outlets)} outlets: "
                       f"{', '.join(outlets)})")
            click.echo(f"    {_highlighted(first)}")
    click.echo(f"{len(stories)} stories would have alerted")


@click.command()
@click.argument("query")
@click.option("--since", default=None, callback=_duration,
              help="Only articles first seen within this long, e.g. 7d.")
@click.option("--limit", default=20, show_default=True, help="Show at most this many articles.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@pass_context
@reports_errors
def search(ctx: Context, query: str, since: timedelta | None, limit: int, as_json: bool) -> None:
    """Search stored articles with the rule language, newest first.

    Example: newswatch search '"Kim Jong Un" NOT sport' --since 30d
    """
    parsed = _parsed(query)
    count = 0
    with opened_app(ctx, sync=False) as app, app.sessions() as session:
        start = utcnow() - since if since is not None else None
        for found in find_matching(session, parsed, since=start, limit=limit):
            count += 1
            article = found.article
            if as_json:
                click.echo(json.dumps({
                    "id": article.id, "story_id": article.story_id, "url": article.url,
                    "title": article.title, "source": article.source.name,
                    "published": article.published_at.isoformat() if article.published_at
                    else None,
                    "snippet": _highlighted(found),
                }))
                continue
            click.echo(f"{_when(found)}  {article.source.name}  {article.title}\n"
                       f"    {article.url}\n    {_highlighted(found)}")
    if not as_json:
        click.echo(f"{count} articles" + (" (limit reached)" if count >= limit else ""))


def _when(found: Found) -> str:
    moment = found.article.published_at or found.article.first_seen_at
    return f"{moment:%Y-%m-%d %H:%M}"


def _highlighted(found: Found) -> str:
    excerpt, spans = snippet_spans(article_document(found.article), found.hits)
    pieces, last = [], 0
    for start, end in sorted(spans):
        pieces += [excerpt[last:start], "[", excerpt[start:end], "]"]
        last = end
    pieces.append(excerpt[last:])
    return "".join(pieces)

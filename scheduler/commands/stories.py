"""`newswatch stories`: one story, many outlets, as the database holds them."""

from __future__ import annotations

import json
from dataclasses import dataclass
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
)

if TYPE_CHECKING:
    from sqlalchemy import Connection
    from sqlalchemy.orm import Session


STORIES_LIMIT = 200


@dataclass(frozen=True)
class StoryLine:
    id: int
    headline: str
    first_seen_at: datetime
    outlets: list[str]
    articles: int


@click.group(invoke_without_command=True)
@click.option("--since", default="24h", show_default=True, callback=duration_option,
              help="Only stories first seen within this long, e.g. 6h, 7d.")
@click.option("--rule", "rule_name", default=None, help="Only stories this rule matched.")
@click.option("--limit", type=click.IntRange(min=1), default=STORIES_LIMIT, show_default=True,
              help="Show at most this many stories, the newest.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_context
@reports_errors
def stories(click_ctx: click.Context, since: timedelta, rule_name: str | None,
            limit: int, as_json: bool) -> None:
    """List stories: headline, how many outlets carried it, when it was first seen.

    A story is one article and its copies elsewhere (syndicated, trimmed or lightly
    edited); newswatch alerts once per story and rule.

    Examples: newswatch stories --since 7d --rule "Putin in Pyongyang"
              newswatch stories show 42
    """
    from crawler.tables import utcnow

    if click_ctx.invoked_subcommand is not None:
        return
    ctx = click_ctx.find_object(Context)
    with opened_app(ctx, sync=False) as app, app.engine.connect() as connection:
        lines = recent_stories(connection, utcnow() - since, rule_name, limit)
    if as_json:
        for line in lines:
            click.echo(json.dumps({
                "id": line.id, "headline": line.headline, "outlets": line.outlets,
                "articles": line.articles, "first_seen": line.first_seen_at.isoformat(),
            }))
        return
    if not lines:
        click.echo("No stories in that period (try a longer --since).")
        return
    print_table(
        ["ID", "FIRST SEEN (UTC)", "OUTLETS", "HEADLINE"],
        [[str(line.id), f"{line.first_seen_at:%Y-%m-%d %H:%M}", str(len(line.outlets)),
          line.headline] for line in lines],
        wide=(3,),
    )
    more = f" (the newest {limit}: raise --limit for more)" if len(lines) == limit else ""
    click.echo(f"{plural(len(lines), 'story', 'stories')}{more}; the articles of one: "
               "newswatch stories show ID")


def recent_stories(session: Session | Connection, since: datetime, rule_name: str | None,
                   limit: int = STORIES_LIMIT) -> list[StoryLine]:
    """The newest `limit` stories first seen since `since` (those `rule_name` matched),
    with their outlets: read from the articles' URLs alone, never their bodies."""
    from sqlalchemy import select

    from alerts.tables import matches
    from crawler.tables import articles, stories
    from crawler.urls import site_of

    query = (
        select(stories.c.id, stories.c.headline, stories.c.first_seen_at)
        .where(stories.c.first_seen_at >= since)
        .order_by(stories.c.first_seen_at.desc(), stories.c.id.desc())
        .limit(limit)
    )
    if rule_name is not None:
        matched = (
            select(articles.c.story_id)
            .join(matches, matches.c.article_id == articles.c.id)
            .where(matches.c.rule == rule_name)
        )
        query = query.where(stories.c.id.in_(matched))
    found = session.execute(query).all()
    urls: dict[int, list[str]] = {story.id: [] for story in found}
    for story_id, url in session.execute(
            select(articles.c.story_id, articles.c.url).where(articles.c.story_id.in_(urls))):
        urls[story_id].append(url)
    return [
        StoryLine(
            id=story.id,
            headline=story.headline,
            first_seen_at=story.first_seen_at,
            outlets=sorted({site_of(url) for url in urls[story.id]}),
            articles=len(urls[story.id]),
        )
        for story in found
    ]


@stories.command("show")
@click.argument("story_id", type=int)
@json_option("One JSON object instead of text.")
@pass_context
@reports_errors
def stories_show(ctx: Context, story_id: int, as_json: bool) -> None:
    """List the articles of one story: when each was published, its source, its headline
    and link, and its id (for `newswatch articles show`).

    Example: newswatch stories show 42
    """
    from sqlalchemy import select

    from crawler import tables

    with opened_app(ctx, sync=False) as app, app.engine.connect() as connection:
        story = connection.execute(
            select(tables.stories).where(tables.stories.c.id == story_id)).first()
        if story is None:
            fail(f"no story {story_id} (ids are in `newswatch stories`)")
            return
        found = connection.execute(
            select(tables.articles.c.id, tables.articles.c.title, tables.articles.c.url,
                   tables.articles.c.published_at, tables.articles.c.first_seen_at,
                   tables.sources.c.name.label("source_name"))
            .join(tables.sources, tables.sources.c.id == tables.articles.c.source_id)
            .where(tables.articles.c.story_id == story_id)
        ).all()
        articles = sorted(found, key=lambda a: (a.published_at or a.first_seen_at, a.id))
        if as_json:
            echo_json({
                "id": story.id, "headline": story.headline,
                "first_seen": story.first_seen_at.isoformat(),
                "articles": [{
                    "id": a.id, "source": a.source_name, "title": a.title, "url": a.url,
                    "published": a.published_at.isoformat() if a.published_at else None,
                    "first_seen": a.first_seen_at.isoformat(),
                } for a in articles],
            })
            return
        click.echo(f"story {story.id}: {story.headline}")
        click.echo(f"first seen {story.first_seen_at:%Y-%m-%d %H:%M} UTC, "
                   f"{plural(len(articles), 'article')}")
        print_table(
            ["ARTICLE", "PUBLISHED (UTC)", "SOURCE", "HEADLINE", "LINK"],
            [[str(a.id), f"{a.published_at:%Y-%m-%d %H:%M}" if a.published_at else "undated",
              a.source_name, a.title, a.url] for a in articles],
            wide=(3, 4),
        )

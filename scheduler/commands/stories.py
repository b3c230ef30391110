"""`newswatch stories`: one story, many outlets, as the database holds them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import click

from alerts.durations import parse_duration
from scheduler.commands.common import Context, fail, opened_app, pass_context, reports_errors

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


@dataclass(frozen=True)
class StoryLine:
    id: int
    headline: str
    first_seen_at: datetime
    outlets: list[str]
    articles: int


def _duration(_ctx: click.Context, _param: click.Parameter, value: str) -> timedelta:
    try:
        return parse_duration(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


@click.group(invoke_without_command=True)
@click.option("--since", default="24h", show_default=True, callback=_duration,
              help="Only stories first seen within this long, e.g. 6h, 7d.")
@click.option("--rule", "rule_name", default=None, help="Only stories this rule matched.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_context
@reports_errors
def stories(click_ctx: click.Context, since: timedelta, rule_name: str | None,
            as_json: bool) -> None:
    """List stories: headline, how many outlets carried it, when it was first seen.

    A story is one article and its copies elsewhere (syndicated, trimmed or lightly
    edited); newswatch alerts once per story and rule.

    Examples: newswatch stories --since 7d --rule "Putin in Pyongyang"
              newswatch stories show 42
    """
    from crawler.models import utcnow

    if click_ctx.invoked_subcommand is not None:
        return
    ctx = click_ctx.find_object(Context)
    with opened_app(ctx, sync=False) as app, app.sessions() as session:
        lines = recent_stories(session, utcnow() - since, rule_name)
    if as_json:
        for line in lines:
            click.echo(json.dumps({
                "id": line.id, "headline": line.headline, "outlets": line.outlets,
                "articles": line.articles, "first_seen": line.first_seen_at.isoformat(),
            }))
        return
    if not lines:
        click.echo("no stories in that period")
        return
    for line in lines:
        click.echo(
            f"{line.id:>6}  {line.first_seen_at:%Y-%m-%d %H:%M}  "
            f"{len(line.outlets):>2} outlet{'s' if len(line.outlets) != 1 else ' '}  "
            f"{line.headline}"
        )


def recent_stories(session: Session, since: datetime, rule_name: str | None) -> list[StoryLine]:
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    from alerts.models import RuleMatch
    from crawler.models import Article, Story
    from crawler.urls import site_of

    query = (
        select(Story)
        .options(selectinload(Story.articles))
        .where(Story.first_seen_at >= since)
        .order_by(Story.first_seen_at.desc(), Story.id.desc())
    )
    if rule_name is not None:
        matched = (
            select(Article.story_id)
            .join(RuleMatch, RuleMatch.article_id == Article.id)
            .where(RuleMatch.rule == rule_name)
        )
        query = query.where(Story.id.in_(matched))
    return [
        StoryLine(
            id=story.id,
            headline=story.headline,
            first_seen_at=story.first_seen_at,
            outlets=sorted({site_of(article.url) for article in story.articles}),
            articles=len(story.articles),
        )
        for story in session.scalars(query)
    ]


@stories.command("show")
@click.argument("story_id", type=int)
@pass_context
@reports_errors
def stories_show(ctx: Context, story_id: int) -> None:
    """List the articles of one story: outlet, first seen, headline and link.

    Example: newswatch stories show 42
    """
    from sqlalchemy.orm import selectinload

    from crawler.models import Story
    from crawler.urls import site_of

    with opened_app(ctx, sync=False) as app, app.sessions() as session:
        story = session.get(Story, story_id, options=[selectinload(Story.articles)])
        if story is None:
            fail(f"no story {story_id}")
            return
        click.echo(f"story {story.id}: {story.headline}")
        click.echo(f"first seen {story.first_seen_at:%Y-%m-%d %H:%M} UTC")
        for article in sorted(story.articles, key=lambda a: a.first_seen_at):
            click.echo(
                f"  {article.first_seen_at:%Y-%m-%d %H:%M}  {site_of(article.url)}  "
                f"{article.title}\n      {article.url}"
            )

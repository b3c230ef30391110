"""`newswatch articles`: one stored article, as newswatch extracted it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from scheduler.commands.common import (
    Context,
    echo_json,
    fail,
    json_option,
    opened_app,
    pass_context,
    reports_errors,
)

if TYPE_CHECKING:
    from sqlalchemy import Row


@click.group()
def articles() -> None:
    """Look at stored articles (ids as `search`, `rules test` and `stories show` give)."""


def article_record(article: Row) -> dict[str, Any]:
    """An `articles` row with its source's name as `source`, as JSON."""
    return {
        "id": article.id, "url": article.url, "title": article.title,
        "source": article.source, "story_id": article.story_id,
        "published": article.published_at.isoformat() if article.published_at else None,
        "first_seen": article.first_seen_at.isoformat(), "language": article.language,
        "authors": list(article.authors or []), "version": article.version,
        "from_feed": article.from_feed, "body": article.body,
    }


@articles.command("show")
@click.argument("article_id", type=int)
@json_option("One JSON object instead of text.")
@pass_context
@reports_errors
def articles_show(ctx: Context, article_id: int, as_json: bool) -> None:
    """Show one article: its metadata and the text newswatch extracted (what rules match).

    Example: newswatch articles show 42
    """
    from sqlalchemy import select

    from crawler import tables

    with opened_app(ctx, sync=False) as app, app.engine.connect() as connection:
        article = connection.execute(
            select(tables.articles, tables.sources.c.name.label("source"))
            .join(tables.sources, tables.sources.c.id == tables.articles.c.source_id)
            .where(tables.articles.c.id == article_id)
        ).first()
        if article is None:
            fail(f"no article {article_id} (ids are in `newswatch search` and "
                 "`newswatch stories show`)")
            return
        record = article_record(article)
    if as_json:
        echo_json(record)
        return
    published = (f"{article.published_at:%Y-%m-%d %H:%M} UTC" if article.published_at
                 else "no date")
    lines = [
        f"article {record['id']}: {record['title'] or '(no title)'}",
        f"  url:        {record['url']}",
        f"  source:     {record['source']}",
        f"  published:  {published}",
        f"  first seen: {article.first_seen_at:%Y-%m-%d %H:%M} UTC",
        f"  story:      {record['story_id'] if record['story_id'] else '-'}"
        + (f"  (newswatch stories show {record['story_id']})" if record["story_id"] else ""),
        f"  language:   {record['language'] or 'unknown'}",
        f"  authors:    {', '.join(record['authors']) or '-'}",
        f"  version:    {record['version']}"
        + ("  (the page could not be read: the feed's title and summary stand in)"
           if record["from_feed"] else ""),
        "",
        record["body"] or "(no text)",
    ]
    click.echo("\n".join(lines))

"""One notion of a site: blogs on a shared host (github.io, blogspot, substack) are sites of
their own everywhere: in a source's scope, the canonical-URL trust check and min_outlets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from alerts.matching import match_new_articles
from alerts.models import Notification
from alerts.query import parse_query
from alerts.rules import Rule
from crawler.models import Article, Source, Story
from crawler.sites import SiteScope
from crawler.urls import preferred_url, same_site, site_of

BLOGS = ["https://alice.github.io/", "https://bob.blogspot.com/", "https://x.substack.com/"]


@pytest.mark.parametrize(
    ("url", "site"),
    [
        ("https://alice.github.io/2024/post.html", "alice.github.io"),
        ("https://bob.blogspot.com/2024/06/post.html", "bob.blogspot.com"),
        ("https://x.substack.com/p/post", "x.substack.com"),
        ("https://m.bbc.co.uk/news/1", "bbc.co.uk"),
        ("http://127.0.0.1:8000/a", "127.0.0.1"),
        ("http://[::1]:8000/a", "::1"),
        ("http://localhost:8000/a", "localhost"),
    ],
)
def test_a_site_is_the_same_for_urls_and_source_scopes(url: str, site: str) -> None:
    assert site_of(url) == site
    assert SiteScope.of([url]).sites == {site}


def test_a_blog_on_a_shared_host_does_not_scope_in_its_neighbours() -> None:
    for blog in BLOGS:
        scope = SiteScope.of([blog + "feed.xml"])
        assert scope.contains(blog + "2024/post")
        for other in BLOGS:
            neighbour = other.replace("//", "//someone-else-", 1)
            assert not scope.contains(neighbour + "2024/post"), (blog, neighbour)


def test_one_blog_cannot_claim_another_blogs_canonical_url() -> None:
    fetched = "https://alice.github.io/2024/06/putin-visit/"
    assert preferred_url(fetched, "https://bob.github.io/2024/06/putin-visit/") == fetched
    assert not same_site("https://alice.blogspot.com/a", "https://bob.blogspot.com/a")
    # Within one blog the declared canonical URL still wins.
    assert preferred_url(fetched + "?utm_source=x", "https://alice.github.io/putin/") == (
        "https://alice.github.io/putin/"
    )


@pytest.fixture
def sessions(migrated_sessions: sessionmaker) -> sessionmaker:
    return migrated_sessions


def test_two_blogs_on_github_io_are_two_outlets_for_min_outlets(sessions: sessionmaker) -> None:
    now = datetime.now(UTC)
    with sessions.begin() as session:
        story = Story(headline="Putin in Pyongyang")
        for name in ("alice", "bob"):
            source = Source(name=name, url=f"https://{name}.github.io/feed.xml")
            session.add(Article(
                source=source, url=f"https://{name}.github.io/putin-visit/", story=story,
                title="Putin in Pyongyang", body="Putin visits Pyongyang.",
                content_hash=name, published_at=now - timedelta(hours=1),
            ))
    two_outlets = Rule("two", parse_query("Putin Pyongyang"), ("desk",), min_outlets=2)
    match_new_articles(sessions, [two_outlets], timedelta(days=3))
    with sessions() as session:
        assert session.scalars(select(Notification.rule)).all() == ["two"]

"""URL identity: the variants of one article's address reduce to one canonical URL."""

from __future__ import annotations

import pytest

from crawler.urls import canonical_url, preferred_url, same_site

ARTICLE = "https://news.example.org/2024/06/18/putin-visit/"


@pytest.mark.parametrize(
    "variant",
    [
        ARTICLE,
        "https://news.example.org/2024/06/18/putin-visit/?utm_source=rss&utm_medium=rss",
        "https://News.Example.org:443/2024/06/18/putin-visit/#comments",
        "https://news.example.org/2024/06/18/putin-visit/?fbclid=abc&gclid=def",
        "https://news.example.org/2024/06/18/putin-visit/amp/",
        "https://news.example.org/2024/06/18/putin-visit/?amp=1",
        "https://amp.news.example.org/2024/06/18/putin-visit/",
    ],
)
def test_variants_reduce_to_one_url(variant: str) -> None:
    assert canonical_url(variant) == ARTICLE


def test_meaningful_query_parameters_are_kept_and_sorted() -> None:
    assert canonical_url("https://x.example/story?page=2&id=7&utm_campaign=z") == (
        "https://x.example/story?id=7&page=2"
    )


def test_a_path_that_merely_contains_amp_is_untouched() -> None:
    assert canonical_url("https://x.example/ampere-news/") == "https://x.example/ampere-news/"
    assert canonical_url("https://x.example/a/amp-up/") == "https://x.example/a/amp-up/"


def test_canonical_link_on_the_same_site_wins_even_from_a_mobile_host() -> None:
    assert preferred_url(
        "https://m.example.co.uk/news/1?utm_source=x", "https://www.example.co.uk/news/1"
    ) == "https://www.example.co.uk/news/1"


def test_canonical_link_to_another_site_is_not_followed() -> None:
    fetched = "https://syndicator.example.net/world/putin"
    assert preferred_url(fetched, "https://wire.example.com/putin") == fetched


def test_same_site_uses_the_public_suffix_list() -> None:
    assert same_site("https://m.bbc.co.uk/a", "https://www.bbc.co.uk/b")
    assert not same_site("https://bbc.co.uk/a", "https://itv.co.uk/b")
    assert same_site("http://127.0.0.1:8000/a", "http://127.0.0.1:8000/b")

"""What a user sees of article extraction: clean body, right metadata, no exceptions."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from crawler.extract import ExtractedArticle, extract_article

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SEED = SHARED / "fixtures" / "seed-site"
SEED_BASE = "http://news.example.test"

needs_shared = pytest.mark.skipif(not SEED.is_dir(), reason="../shared fixtures not present")


def _seed_articles() -> list[dict]:
    if not SEED.is_dir():
        return []
    return json.loads((SEED / "expected.json").read_text())["articles"]


def _extract_seed(article: dict) -> ExtractedArticle:
    page = SEED / article["path"].strip("/") / "index.html"
    return extract_article(page.read_bytes(), SEED_BASE + article["path"])


def _assert_in_order(body: str, paragraphs: list[str]) -> None:
    position = 0
    for paragraph in paragraphs:
        found = body.find(paragraph, position)
        assert found >= 0, f"missing or out of order: {paragraph[:60]!r}"
        position = found + len(paragraph)


@needs_shared
@pytest.mark.parametrize("article", _seed_articles(), ids=lambda a: a["path"].split("/")[-2])
def test_seed_article_body_is_clean_and_complete(article: dict) -> None:
    result = _extract_seed(article)

    assert result.error is None
    _assert_in_order(result.body, article["body_paragraphs"])
    for junk in article["must_not_contain"]:
        assert junk not in result.body


@needs_shared
@pytest.mark.parametrize("article", _seed_articles(), ids=lambda a: a["path"].split("/")[-2])
def test_seed_article_metadata(article: dict) -> None:
    result = _extract_seed(article)

    assert result.title == article["title"]
    assert result.authors == [article["author"]]
    assert result.published == datetime.fromisoformat(article["published"])
    assert result.published.tzinfo is not None
    assert result.language == "en"
    assert result.site_name == "The Daily Example"
    assert result.canonical_url == SEED_BASE + article["path"]

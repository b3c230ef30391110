"""The date a story shows beside its headline, read as text in the page's own language.

Pages without date metadata still print the day next to the headline ("jueves 2 de
abril de 2020", "January 18, 2020", "22/11/2020 - 04:30"). Reading the few text lines
around the <h1> costs a few milliseconds; searching the whole page's text (htmldate's
extensive mode) costs hundreds, with dateparser trying every language it knows on
every line, and picks up dates of other stories, comments and copyright lines.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from functools import cache

import dateparser
from dateparser.search import search_dates
from lxml.html import HtmlElement

logging.getLogger("dateparser").setLevel(logging.ERROR)

# How far from the headline a date is looked for, in text lines.
LINES_BEFORE = 15
LINES_AFTER = 30
# Lines longer than this are prose, which mentions dates of other things.
MAX_LINE_CHARS = 80
# At most this many lines are given to the date parser per page.
MAX_PARSES = 6
_DATE_LIKE = re.compile(r"(?<!\d)(?:19|20)\d{2}(?!\d)|(?<!\d)\d{1,2}[./-]\d{1,2}[./-]\d{2}(?!\d)")
_SETTINGS = {"REQUIRE_PARTS": ["day", "month", "year"], "PREFER_DATES_FROM": "past",
             "RETURN_AS_TIMEZONE_AWARE": False}
# A parsed value with a fraction of a second was computed ("3 hours ago"), not printed.
_EARLIEST = datetime(1995, 1, 1)
_TEXT = ".//text()[not(ancestor::script or ancestor::style or ancestor::noscript)]"


@cache
def _known_languages() -> frozenset[str]:
    from dateparser.languages.loader import default_loader

    return frozenset(default_loader.get_locale_map())


def parser_languages(language: str | None) -> list[str]:
    """The page's language (when the parser knows it) and English, which pages in every
    language use for dates."""
    if language and language != "en" and language in _known_languages():
        return [language, "en"]
    return ["en"]


# A numeric date with dots ("12.01.2017") is day first wherever it is written; so are
# numeric dates in every language but English.
_DOTTED_DATE = re.compile(r"(?<!\d)\d{1,2}\.\d{1,2}\.(?:19|20)?\d{2}(?!\d)")
_DAY_FIRST = {**_SETTINGS, "DATE_ORDER": "DMY"}


def _settings(line: str, languages: list[str]) -> dict:
    day_first = languages[0] != "en" or _DOTTED_DATE.search(line)
    return _DAY_FIRST if day_first else _SETTINGS


# A date written year first ("2019年4月4日", "2019/3/5", "2019.03.05", "2020년 8월 17일")
# is year, month, day in every language: read without the language-bound parser, which
# knows no CJK numerals on a page that declares no language.
_YEAR_FIRST = re.compile(
    r"(?<!\d)((?:19|20)\d{2})\s*(?:年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日"
    r"|년\s*(\d{1,2})\s*월\s*(\d{1,2})\s*일|([./-])(\d{1,2})\6(\d{1,2})(?![\d.]\d))")


def year_first_date(line: str) -> datetime | None:
    """The first year-first numeric date in a line, or None."""
    for match in _YEAR_FIRST.finditer(line):
        groups = match.groups()
        month, day = next((groups[i], groups[i + 1]) for i in (1, 3, 6) if groups[i])
        try:
            return datetime(int(groups[0]), int(month), int(day))
        except ValueError:
            continue
    return None


def _parse(line: str, languages: list[str]) -> datetime | None:
    found = year_first_date(line)
    if found is not None:
        return found
    settings = _settings(line, languages)
    try:
        found = dateparser.parse(line, languages=languages, settings=settings)
        if found is None:
            hits = search_dates(line, languages=languages, settings=settings)
            found = next((value for text, value in hits or () if _DATE_LIKE.search(text)),
                         None)
    except (ValueError, OverflowError, TypeError, AttributeError):
        return None
    return found


def _latest() -> datetime:
    return datetime.now() + timedelta(days=2)


def _holder(text) -> HtmlElement | None:
    """The element whose content a text node is (a tail belongs to the parent)."""
    element = text.getparent()
    return element.getparent() if text.is_tail and element is not None else element


def _headline_line(lines: list, headline: HtmlElement) -> int | None:
    inside = set(headline.iter())
    for index, line in enumerate(lines):
        if line.getparent() in inside:
            return index
    return None


def header_date(tree: HtmlElement, headline: HtmlElement | None,
                language: str | None) -> datetime | None:
    """The date printed nearest the headline (a day; its time is not trusted), or None."""
    body = tree.find("body")
    if body is None or headline is None:
        return None
    lines = [line for line in body.xpath(_TEXT) if line.strip()]
    at = _headline_line(lines, headline)
    if at is None:
        return None
    window = range(max(0, at - LINES_BEFORE), min(len(lines), at + LINES_AFTER))
    languages = parser_languages(language)
    parses = 0
    in_headline = set(headline.iter())
    for index in sorted(window, key=lambda i: abs(i - at)):
        line = " ".join(lines[index].split())
        # A date in the headline is the story's subject ("Winners of 11-12 July").
        if _holder(lines[index]) in in_headline:
            continue
        if len(line) > MAX_LINE_CHARS or not _DATE_LIKE.search(line):
            continue
        found = _parse(line, languages)
        if found is not None and not found.microsecond and _EARLIEST <= found <= _latest():
            return found
        parses += 1
        if parses >= MAX_PARSES:
            break
    return None

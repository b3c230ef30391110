"""Publish and modified times: gather every date the page states, pick one, say who agrees."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

from htmldate import find_date
from lxml.html import HtmlElement

from crawler.extract.header_date import header_date
from crawler.extract.metadata import MetaTags
from crawler.extract.structured import Microdata, StructuredArticle

# Source names, most authoritative first; the bench reports agreement between them.
STRUCTURED, META, VISIBLE, URL = "structured", "meta", "visible", "url"
HTMLDATE, HEADER = "htmldate", "header"
SOURCE_ORDER = (STRUCTURED, META, VISIBLE, URL)

# Meta names are compared in a normal form (lowercase, ":", ".", "-" and "_" alike), so
# that spelling variants such as "article:published:time" or "publish_date" match.
_PUBLISHED_META = (
    "article:published_time", "og:published_time", "og:article:published_time",
    "datepublished", "article.published", "published_time", "publish-date", "publishdate",
    "pubdate", "pub_date", "parsely-pub-date", "sailthru.date", "dc.date.issued",
    "dcterms.issued", "dcterms.created", "dc.date.created", "dc.date", "dcterms.date",
    "date", "cxenseparse:recs:publishtime", "article:published", "publication_date",
    "publication-date", "published_date", "article:published_date", "citation_publication_date",
    "citation_date", "prism.publicationdate", "originalpublicationdate", "rnews:datepublished",
    "datecreated", "created",
)
# The tags that name the publication itself (not a generic "date" a CMS may fill with
# the last update).
_NAMED_PUBLISHED_META = tuple(key for key in _PUBLISHED_META if "publish" in key)
_MODIFIED_META = (
    "article:modified_time", "og:updated_time", "datemodified", "article.updated",
    "last-modified", "dcterms.modified", "dc.date.modified", "modified_time",
)
# A CMS's own prefix before a known name ("bt:pubdate", "sb:publish_date") is still it.
_PUBLISHED_SUFFIXES = ("pubdate", "pub_date", "publishdate", "publish_date", "published_time",
                       "published_date", "publication_date", "datepublished")
_META_SEPARATORS = re.compile(r"[:._-]+")
_HAS_TIME = re.compile(r"\d[T ]\d{1,2}:\d{2}|^\d{10}(?:\d{3})?$", re.I)
_URL_DATE = re.compile(
    r"/((?:19|20)\d{2})[/_-]?(0[1-9]|1[0-2])[/_-]?(0[1-9]|[12]\d|3[01])(?:/|[_-]|\.html?|$)"
)
_ISO_FRACTION = re.compile(r"(\.\d{6})\d+")
_ONE_DIGIT_SECONDS = re.compile(r"(T\d{2}:\d{2}):(\d)(?!\d)")
_PUBLISH_FLAG = re.compile(r"publish|posted|created", re.IGNORECASE)
_TIMESTAMP = re.compile(r"^\d{10}(\d{3})?$")
# Two stated times within this much of each other describe the same publication
# (a date-only value and a timestamp late in the day in another zone still agree).
AGREEMENT_WINDOW = timedelta(hours=36)
_EARLIEST = datetime(1995, 1, 1, tzinfo=UTC)

logging.getLogger("htmldate").setLevel(logging.ERROR)


@dataclass
class DateEvidence:
    """Publish-time candidates per source and the chosen publish/modified times."""

    candidates: dict[str, datetime] = field(default_factory=dict)
    published: datetime | None = None
    published_source: str | None = None
    modified: datetime | None = None


# A page that states no offset is read as UTC; this marker (still UTC) records that it
# was assumed, so a value with a stated offset can be preferred when both agree.
ASSUMED_UTC = timezone(timedelta(0), "UTC")
# A value that states a day and no time is kept as midnight (the store keeps datetimes)
# in this zone, still UTC, which records that the time is not known.
DATE_ONLY = timezone(timedelta(0), "UTC date")
DAY, TIME = "day", "time"


def precision(value: datetime | None) -> str | None:
    """"day" when the page stated only a date, "time" when it stated a time of day."""
    if value is None:
        return None
    return DAY if value.tzinfo is DATE_ONLY else TIME


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=ASSUMED_UTC)


def is_precise(value: datetime) -> bool:
    """True when the page stated a time of day and its UTC offset."""
    # By identity: timezones compare equal by offset, and a stated UTC is precise.
    return value.tzinfo is not ASSUMED_UTC and value.tzinfo is not DATE_ONLY


def parse_datetime(raw: str | None) -> datetime | None:
    """A timezone-aware datetime from ISO 8601, RFC 2822 or epoch text; None if unreadable."""
    if not raw:
        return None
    text = raw.strip()
    parsed: datetime | None = None
    if _TIMESTAMP.match(text):
        seconds = int(text) / (1000 if len(text) == 13 else 1)
        parsed = datetime.fromtimestamp(seconds, tz=UTC)
    else:
        iso = _ISO_FRACTION.sub(r"\1", text.replace(" UTC", "Z").replace(" GMT", "Z"))
        iso = _ONE_DIGIT_SECONDS.sub(r"\1:0\2", iso)
        try:
            parsed = datetime.fromisoformat(iso)
        except ValueError:
            try:
                parsed = parsedate_to_datetime(text)
            except (TypeError, ValueError, IndexError):
                return None
        if not _HAS_TIME.search(text) and not _has_time(parsed):
            return _plausible(parsed.replace(tzinfo=DATE_ONLY))
    return _plausible(_aware(parsed))


def _plausible(value: datetime) -> datetime | None:
    """Reject dates no news page can carry (before the web, or in the future)."""
    if value < _EARLIEST or value > datetime.now(UTC) + timedelta(days=2):
        return None
    return value


def _first_parsed(raws: list[str]) -> datetime | None:
    for raw in raws:
        parsed = parse_datetime(raw)
        if parsed:
            return parsed
    return None


def url_date(url: str) -> datetime | None:
    """The date in a URL path like /2024/06/18/ or /20240618/ (a day, no time)."""
    match = _URL_DATE.search(url)
    if not match:
        return None
    try:
        return _plausible(datetime(*map(int, match.groups()), tzinfo=DATE_ONLY))
    except ValueError:
        return None


def _visible_time(tree: HtmlElement) -> datetime | None:
    """The <time> the story shows: inside <article> or <main> first (sidebars list other
    stories' times), publish-flagged ones before the rest."""
    times = tree.xpath("//article//time[@datetime] | //main//time[@datetime]")
    times += tree.xpath("//time[@datetime]")
    flagged = [t for t in times if t.get("pubdate") is not None or _PUBLISH_FLAG.search(
        f"{t.get('class') or ''} {t.get('itemprop') or ''}")]
    return _first_parsed([t.get("datetime", "") for t in flagged + times])


def _meta_key(key: str) -> str:
    return _META_SEPARATORS.sub("_", key.lower())


def normal_meta(tags: MetaTags) -> dict[str, list[str]]:
    """Meta tags by the normal form of their names."""
    normal: dict[str, list[str]] = {}
    for key, values in tags.items():
        normal.setdefault(_meta_key(key), []).extend(values)
    return normal


def _meta_values(normal: dict[str, list[str]], keys: tuple[str, ...]) -> list[str]:
    found = [value for key in dict.fromkeys(map(_meta_key, keys)) for value in normal.get(key, [])]
    if found or keys is not _PUBLISHED_META:
        return found
    return [value for key, values in normal.items()
            if key.endswith(tuple("_" + suffix for suffix in _PUBLISHED_SUFFIXES))
            for value in values]


def _htmldate(tree: HtmlElement, url: str) -> datetime | None:
    try:
        found = find_date(tree, url=url, original_date=True, extensive_search=False,
                          outputformat="%Y-%m-%dT%H:%M:%S")
    except Exception:  # htmldate raises assorted errors on odd pages; it is only a fallback
        return None
    if found and found.endswith("T00:00:00"):
        found = found[:10]  # htmldate prints midnight for a date it found without a time
    return parse_datetime(found)


def agrees(a: datetime, b: datetime) -> bool:
    return abs(a - b) <= AGREEMENT_WINDOW


def _has_time(value: datetime) -> bool:
    return (value.hour, value.minute, value.second) != (0, 0, 0)


def _same_moment(vague: datetime, precise: datetime) -> bool:
    """Whether a precise value can stand for a date-only or offset-less one."""
    if vague.tzinfo is not DATE_ONLY:
        return agrees(vague, precise)
    return precise.date() == vague.date()


def _one_day_apart(a: datetime, b: datetime) -> bool:
    """A date-only value and a stated time at most a day apart: one publication, the
    day written in the publisher's zone, the time in UTC (the time says more)."""
    if (a.tzinfo is DATE_ONLY) == (b.tzinfo is DATE_ONLY):
        return False
    return abs(a.date() - b.date()) <= timedelta(days=1)


def _local(value: datetime) -> bool:
    """A time stated with the publisher's own (non-zero) offset: its day is the local day."""
    return is_precise(value) and bool(value.utcoffset())


def _choose(candidates: dict[str, datetime]) -> tuple[str, datetime] | None:
    """The most authoritative date; an agreeing precise one lends it time and offset.

    The day in the address was set when the story was filed, in the publisher's own
    zone: a time on the next or previous day (a local time written as UTC, or UTC past
    midnight) gives way to a source that agrees with that day, else to the day itself.
    """
    ordered = [(source, candidates[source]) for source in SOURCE_ORDER if source in candidates]
    if not ordered:
        return None
    declared = [value for source, value in ordered if source in (STRUCTURED, META)]
    if len(declared) == 2 and declared[1] < declared[0] and not _one_day_apart(*declared):
        # Two declared publish times that differ: the later one is a re-publication
        # or an update; the story first ran at the earlier.
        ordered = [ordered[1], ordered[0], *ordered[2:]]
    filed = candidates.get(URL)
    if filed is not None:
        same_day = [(source, value) for source, value in ordered
                    if value.date() == filed.date() or not agrees(value, filed)
                    or _local(value)]
        ordered = same_day or [(URL, filed)]
    source, chosen = ordered[0]
    if not is_precise(chosen):
        for _, other in ordered[1:]:
            if is_precise(other) and _same_moment(chosen, other):
                return source, other
    return source, chosen


def date_candidates(
    tree: HtmlElement, normal: dict[str, list[str]], microdata: Microdata,
    data: StructuredArticle, url: str,
) -> dict[str, datetime]:
    """Publish-time candidates from each independent source that states one (`normal`:
    the meta tags by normal name)."""
    found = {
        STRUCTURED: parse_datetime(data.published)
        or _first_parsed(microdata.values("datePublished")),
        META: _first_parsed(_meta_values(normal, _PUBLISHED_META)),
        VISIBLE: _visible_time(tree),
        URL: url_date(url),
    }
    return {source: value for source, value in found.items() if value}


def _shown_day(tree: HtmlElement, headline: HtmlElement | None,
               language: str | None) -> datetime | None:
    found = header_date(tree, headline, language)
    if found is None:
        return None
    return _plausible(datetime(found.year, found.month, found.day, tzinfo=DATE_ONLY))


def _fallback(tree: HtmlElement, url: str, headline: HtmlElement | None,
              language: str | None) -> tuple[str, datetime] | None:
    """For pages that state no date in metadata: htmldate's markup analysis (its cheap
    mode), then the date printed beside the headline."""
    found = _htmldate(tree, url)
    if found:
        return HTMLDATE, found
    shown = _shown_day(tree, headline, language)
    return (HEADER, shown) if shown else None


def _wall_clock_times(raws: list[str]) -> set[datetime]:
    """Declared times (the page's update times, its named publish times), as the
    wall-clock time they state (to the second): CMSs copy one value into several tags,
    not always with the same offset."""
    found = (parse_datetime(raw) for raw in raws)
    return {value.replace(tzinfo=None, microsecond=0) for value in found
            if value is not None and value.tzinfo is not DATE_ONLY}


def _without_updates(candidates: dict[str, datetime],
                     modified: set[datetime]) -> dict[str, datetime]:
    """Drop publish candidates that are the page's update time, when another source states
    an earlier day: a "date" tag holding the last update is not the first publication."""
    updates = {source for source, value in candidates.items()
               if value.replace(tzinfo=None, microsecond=0) in modified}
    if not updates or len(updates) == len(candidates):
        return candidates
    earliest = min(value.date() for source, value in candidates.items() if source not in updates)
    if any(candidates[source].date() <= earliest for source in updates):
        return candidates
    return {source: value for source, value in candidates.items() if source not in updates}


# A clock time as pages print it: "22:30", "0 h 23", "05:00 Uhr", "10:00 PM".
_SHOWN_CLOCK = re.compile(
    r"(?<![\d:])([01]?\d|2[0-3])\s*(?::|h)\s*([0-5]\d)(?![\d:])(?:\s*([ap])\.?m\b)?", re.I)
_QUARTER_HOUR = 15


def _shown_offset(moment: datetime, shown: str) -> timedelta | None:
    """The offset between a moment and the wall-clock time a page prints for it."""
    match = _SHOWN_CLOCK.search(shown)
    if not match:
        return None
    hour, minute = int(match[1]), int(match[2])
    if match[3]:
        hour = hour % 12 + (12 if match[3].lower() == "p" else 0)
    utc = moment.astimezone(UTC)
    minutes = (hour * 60 + minute - utc.hour * 60 - utc.minute + 12 * 60) % (24 * 60) - 12 * 60
    return timedelta(minutes=minutes) if minutes % _QUARTER_HOUR == 0 else None


def _in_shown_zone(tree: HtmlElement, value: datetime) -> datetime:
    """A time stated in UTC, put in the zone of the local time the page shows for it
    (<time datetime="…T22:30Z">19.10.2019, 00:30</time>): the publisher's own day."""
    if not is_precise(value) or value.utcoffset():
        return value
    for element in tree.xpath("//time[@datetime]"):
        stated = parse_datetime(element.get("datetime"))
        if stated is None or not is_precise(stated) or abs(stated - value) >= timedelta(
                minutes=1):
            continue
        offset = _shown_offset(value, element.text_content())
        if offset:
            return value.astimezone(timezone(offset))
    return value


def extract_dates(
    tree: HtmlElement, tags: MetaTags, data: StructuredArticle, url: str,
    headline: HtmlElement | None = None, language: str | None = None,
) -> DateEvidence:
    """Publish time (falling back to the page's markup and the date shown beside the
    headline, `headline` being its <h1>) and modified time."""
    microdata, normal = Microdata(tree), normal_meta(tags)
    candidates = date_candidates(tree, normal, microdata, data, url)
    modified = _wall_clock_times([data.modified or "", *microdata.values("dateModified"),
                                  *_meta_values(normal, _MODIFIED_META)])
    named = _wall_clock_times([data.published or "", *microdata.values("datePublished"),
                               *_meta_values(normal, _NAMED_PUBLISHED_META)])
    if modified.isdisjoint(named):
        # (A page naming its publish time as its modified time was never updated, as most
        # are: its publish time does not give way to another story's <time>.)
        candidates = _without_updates(candidates, modified)
    evidence = DateEvidence(candidates=candidates)
    chosen = _choose(candidates) or _fallback(tree, url, headline, language)
    if chosen:
        evidence.published_source, evidence.published = chosen[0], _in_shown_zone(
            tree, chosen[1])
    evidence.modified = (
        parse_datetime(data.modified)
        or _first_parsed(microdata.values("dateModified"))
        or _first_parsed(_meta_values(normal, _MODIFIED_META))
    )
    if evidence.modified and evidence.published and evidence.modified < evidence.published:
        evidence.modified = None
    return evidence

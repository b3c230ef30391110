"""Alert snippets: a short excerpt of an article around its matched words.

`snippet_spans` returns plain text plus the (start, end) spans to highlight inside it,
so that each channel renderer can escape the text and mark the spans in its own format
(HTML <mark>, Markdown **bold**, ...). `snippet` is the plain-text convenience: it marks
the spans with «guillemets» by default, or any other pair of markers.

The excerpt is taken from the body when a hit is in the body, else from the title (or
the start of the body when there is no hit at all). Whitespace runs, including
paragraph breaks, become single spaces; a cut text is marked with "…" at the cut.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from alerts.matcher import Document, Hit, field_text

ELLIPSIS = "…"
DEFAULT_MARKERS = ("«", "»")
_MIN_WIDTH = 20


def snippet(doc: Document, hits: Sequence[Hit], width: int = 240,
            markers: tuple[str, str] = DEFAULT_MARKERS) -> str:
    """The excerpt with each highlighted span wrapped in `markers` (default «…»)."""
    text, spans = snippet_spans(doc, hits, width)
    opening, closing = markers
    parts, cursor = [], 0
    for start, end in spans:
        parts += [text[cursor:start], opening, text[start:end], closing]
        cursor = end
    parts.append(text[cursor:])
    return "".join(parts)


def snippet_spans(doc: Document, hits: Sequence[Hit],
                  width: int = 240) -> tuple[str, list[tuple[int, int]]]:
    """An excerpt of at most about `width` characters (plus ellipses) and, sorted and
    non-overlapping, the spans of the matched words within it."""
    width = max(width, _MIN_WIDTH)
    field = _snippet_field(doc, hits)
    text = field_text(doc, field)
    ranges = sorted({(h.start, h.end) for h in hits
                     if h.field == field and 0 <= h.start < h.end <= len(text)})
    start, end = _window(text, ranges, width)
    excerpt, mapping = _collapse_whitespace(text, start, end)
    spans = _merge(
        (mapping[max(s, start) - start], mapping[min(e, end) - start])
        for s, e in ranges if s < end and e > start
    )
    if start > 0:
        excerpt, spans = ELLIPSIS + excerpt, [(s + 1, e + 1) for s, e in spans]
    if end < len(text):
        excerpt += ELLIPSIS
    return excerpt, spans


def _snippet_field(doc: Document, hits: Sequence[Hit]) -> str:
    fields = {h.field for h in hits}
    for field in ("body", "title"):
        if field in fields:
            return field
    return "body" if doc.body.strip() or not doc.title.strip() else "title"


def _window(text: str, ranges: list[tuple[int, int]], width: int) -> tuple[int, int]:
    """The [start, end) of `text` to show: the `width` characters holding most hits,
    centred on them and widened or narrowed to whole words."""
    if len(text) <= width:
        return 0, len(text)
    if not ranges:
        return 0, _word_end(text, width)
    first, last = _densest(ranges, width)
    slack = max(0, width - (last - first))
    start = max(0, first - slack // 2)
    if start < width // 5:  # so close to the beginning that cutting it off looks odd
        start = 0
    end = min(len(text), start + max(width, last - first))
    start = max(0, min(start, end - width))
    return _word_start(text, start, limit=first), _word_end(text, end, limit=last)


def _densest(ranges: list[tuple[int, int]], width: int) -> tuple[int, int]:
    """The start of the first and the end of the last hit in the run of hits that fits
    in `width` and holds the most hits (the earliest such run)."""
    best = (0, 0, 0)  # count, first index, last index
    last_index = 0
    for i, (start, _) in enumerate(ranges):
        last_index = max(last_index, i)
        while last_index + 1 < len(ranges) and ranges[last_index + 1][1] - start <= width:
            last_index += 1
        if last_index - i + 1 > best[0]:
            best = (last_index - i + 1, i, last_index)
    _, first, last = best
    return ranges[first][0], max(end for _, end in ranges[first : last + 1])


def _word_start(text: str, position: int, limit: int) -> int:
    """Move `position` forward past a word cut in half (never beyond `limit`)."""
    if position == 0 or text[position - 1].isspace():
        return position
    while position < limit and not text[position].isspace():
        position += 1
    return position


def _word_end(text: str, position: int, limit: int = 0) -> int:
    """Move `position` back before a word cut in half (never before `limit`)."""
    if position >= len(text) or text[position].isspace():
        return position
    cut = position
    while position > limit and not text[position - 1].isspace():
        position -= 1
    return position if position > limit else cut


def _collapse_whitespace(text: str, start: int, end: int) -> tuple[str, list[int]]:
    """text[start:end] with whitespace runs as one space, stripped, and a map from each
    original offset (relative to start, end inclusive) to the excerpt offset."""
    out: list[str] = []
    mapping: list[int] = []
    for ch in text[start:end]:
        mapping.append(len(out))
        if not ch.isspace():
            out.append(ch)
        elif out and out[-1] != " ":
            out.append(" ")
    mapping.append(len(out))
    while out and out[-1] == " ":
        out.pop()
    return "".join(out), [min(m, len(out)) for m in mapping]


def _merge(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if start >= end:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged

"""Escaping article text for a channel's message format: plain text, Markdown or HTML.

Headlines and snippets come from the open web; whatever they contain (`<script>`,
`*stars*`, `[links](...)`) must reach the reader as the literal text, never as markup.

Markdown is escaped with backslashes, which CommonMark allows before any ASCII
punctuation and which Apprise's own Markdown-to-HTML conversion honours, so `\\<script>`
becomes the text "<script>" rather than an HTML tag that Markdown would pass through.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal, get_args
from urllib.parse import quote

from markupsafe import Markup, escape

Format = Literal["text", "markdown", "html"]
FORMATS: tuple[str, ...] = get_args(Format)

TEXT_MARKERS = ("«", "»")
MARKDOWN_MARKERS = ("**", "**")
HTML_MARKERS = ("<b>", "</b>")

# Characters that start or end inline Markdown anywhere in a line (emphasis, code,
# links, images, raw HTML, entities, tables, strikethrough).
_MARKDOWN_INLINE = re.compile(r"([\\`*_\[\]<>!|~])")
# An escaped "&" still starts a character reference ("\\&amp;" shows "&"), so the "&" of
# text that looks like one becomes an entity; any other "&" is escaped with a backslash.
_AMPERSAND = re.compile(r"&(?=(#?[A-Za-z0-9]+;)?)")
# Characters that only mean something at the start of a line (headings, quotes,
# lists, setext underlines, ordered lists such as "1." or "1)").
_MARKDOWN_LINE_START = re.compile(r"(?m)^(\s*)([#>+=-]|\d+(?=[.)]))")
_WHITESPACE = re.compile(r"\s+")


def escape_markdown(text: str) -> str:
    """`text` as Markdown that renders exactly as `text`."""
    escaped = _MARKDOWN_INLINE.sub(r"\\\1", text)
    escaped = _AMPERSAND.sub(lambda match: "&amp;" if match.group(1) else "\\&", escaped)
    return _MARKDOWN_LINE_START.sub(_escape_line_start, escaped)


def _escape_line_start(match: re.Match[str]) -> str:
    indent, marker = match.group(1), match.group(2)
    if marker.isdigit():
        # "1." is only a list when the dot follows the digits: escape the dot instead.
        return f"{indent}{marker}\\"
    return f"{indent}\\{marker}"


def escape_html(text: str) -> str:
    return str(escape(text))


def escape_for(text: str, format: Format) -> str:
    """`text` made literal in `format` (unchanged for plain text)."""
    if format == "markdown":
        return escape_markdown(text)
    if format == "html":
        return escape_html(text)
    return text


def highlight(text: str, spans: Sequence[tuple[int, int]], format: Format) -> str:
    """`text` escaped for `format` with each (start, end) span emphasised: «…» in plain
    text, **…** in Markdown, <b>…</b> in HTML (a tag every chat service keeps)."""
    opening, closing = {
        "markdown": MARKDOWN_MARKERS, "html": HTML_MARKERS,
    }.get(format, TEXT_MARKERS)
    parts, cursor = [], 0
    for start, end in spans:
        parts += [
            escape_for(text[cursor:start], format),
            opening, escape_for(text[start:end], format), closing,
        ]
        cursor = end
    parts.append(escape_for(text[cursor:], format))
    return "".join(parts)


def link_target(url: str, format: Format) -> str:
    """A URL safe inside a Markdown `[text](url)` or an HTML attribute."""
    if format == "markdown":
        # Parentheses, angle brackets, backslashes and spaces would end or break the link.
        return quote(url, safe="!#$%&'*+,/:;=?@[]~-._")
    if format == "html":
        return escape_html(url)
    return url


def one_line(text: str) -> str:
    return _WHITESPACE.sub(" ", text).strip()


def message_title(text: str, limit: int = 250) -> str:
    """A message title as rendered: one line of plain text, shortened to `limit` characters."""
    title = one_line(text)
    if len(title) > limit:
        title = title[: limit - 1].rstrip() + "…"
    return title


def safe_title(text: str, format: Format, limit: int = 250) -> str:
    """A title for a service's own title field (an email subject, a chat title).

    Such fields are plain text, but in HTML and Markdown messages angle brackets are
    replaced by look-alikes that cannot open a tag, in case a service pastes its title
    into its markup unescaped.
    """
    title = message_title(text, limit)
    if format != "text":
        title = title.replace("<", "‹").replace(">", "›")
    return title


def service_title(title: str, format: Format, blended: bool) -> str:
    """The title to hand Apprise for one service, from a plain `message_title`.

    A service without a title field (Apprise's `title_maxlen == 0`: Mattermost,
    Rocket.Chat, Telegram, Google Chat, Signal, MQTT, SMS ...) gets the title blended
    into the body: Apprise converts it from the message's format to the service's, as
    it converts the body, and pastes it in front (`# title` in Markdown, `<b>title</b>`
    in HTML). So such a title must be escaped for the message's format exactly as the
    body's text is; then every conversion Apprise applies keeps it literal. A service
    with a title field receives it as plain text, unconverted.
    """
    if blended:
        return escape_for(title, format)
    return safe_title(title, format, limit=len(title) + 1)


def mark_safe(text: str) -> Markup:
    """Text already escaped for its format, so templates insert it as is."""
    return Markup(text)

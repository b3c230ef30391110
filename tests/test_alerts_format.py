"""Alert messages per format: escaping, highlighting, templates, and injection attempts.

Markdown is checked the way readers see it: converted to HTML by Apprise's own
converter (what Matrix, email and other HTML services receive).
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from apprise.conversion import html_to_text, markdown_to_html, text_to_markdown
from hypothesis import given
from hypothesis import strategies as st
from servers import WebhookReceiver

from alerts.channels import Channel
from alerts.delivery import send_to_url
from alerts.escaping import escape_markdown, highlight, safe_title, service_title
from alerts.render import SAMPLE_FACTS, AlertFacts, render_alert, render_digest
from alerts.templates import AlertTemplateError, render

EVIL = ('<script>alert("x")</script> *Putin* _in_ [Pyongyang](javascript:alert(1)) '
        '`code` | a | ~~s~~ &amp; <img src=x onerror=alert(1)>')


def facts(headline: str = EVIL, snippet: str | None = None) -> AlertFacts:
    text = snippet if snippet is not None else f"{EVIL} Putin visits Pyongyang."
    start = text.rindex("Putin visits")
    return replace(
        SAMPLE_FACTS, headline=headline, snippet=text,
        snippet_spans=((start, start + 5), (start + 13, start + 22)),
        published=datetime(2024, 6, 18, 21, 41, tzinfo=UTC),
    )


def channel(format: str, **options) -> Channel:
    return Channel("desk", ("json://127.0.0.1/hook",), format=format, **options)


def test_plain_text_keeps_the_headline_as_written() -> None:
    message = render_alert(channel("text", timezone="Asia/Tokyo"), facts())
    assert message.title == f"[Putin in Pyongyang] {EVIL}"
    assert message.body.startswith(EVIL + "\n")
    assert "2024-06-19 06:41 JST" in message.body  # the channel's timezone
    assert "«Putin» visits «Pyongyang»." in message.body
    assert SAMPLE_FACTS.link in message.body
    assert "Also carried by example.net (2 outlets)" in message.body


def test_markdown_shows_hostile_headlines_literally_and_highlights_matches() -> None:
    message = render_alert(channel("markdown"), facts())
    html = markdown_to_html(message.body)
    assert "<script" not in html and "<img" not in html
    assert "javascript:" not in re.findall(r'href="([^"]*)"', html)[0]
    assert re.findall(r'href="([^"]*)"', html) == [SAMPLE_FACTS.link]
    assert html.count("<em>") == 1  # the rule name, as the default template says
    assert "<code>" not in html and "<del>" not in html
    assert "<strong>Putin</strong> visits <strong>Pyongyang</strong>" in html
    visible = html_to_text(html)
    assert '<script>alert("x")</script> *Putin* _in_ [Pyongyang](javascript:alert(1))' in visible
    assert "~~s~~ &amp; <img src=x onerror=alert(1)>" in visible
    assert message.title == f"[Putin in Pyongyang] {EVIL}"  # plain; escaped per service
    assert "<" not in service_title(message.title, "markdown", blended=False)


def test_html_escapes_headlines_and_links() -> None:
    evil_link = replace(facts(), link='https://example.org/a"><script>x</script>')
    message = render_alert(channel("html"), evil_link)
    assert "<script" not in message.body and "<img" not in message.body
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in message.body
    assert 'href="https://example.org/a&#34;&gt;&lt;script&gt;x&lt;/script&gt;"' in message.body
    assert "<b>Putin</b> visits <b>Pyongyang</b>" in message.body
    assert "<" not in service_title(message.title, "html", blended=False)


def test_markdown_line_start_markers_are_escaped() -> None:
    for headline in ("# Breaking", "1. Putin", "- Kim", "> quote", "+ plus", "=== x"):
        html = markdown_to_html(escape_markdown(headline))
        assert html_to_text(html).strip() == headline
        assert not re.search(r"<(h\d|ol|ul|li|blockquote|hr)\b", html), html


@given(st.text(alphabet=st.characters(codec="ascii", exclude_categories=("Cc",)), max_size=40))
def test_any_ascii_text_survives_markdown_as_plain_text(text: str) -> None:
    html = markdown_to_html(escape_markdown(text))
    assert not re.search(r"<(?!/?p>|br />)", html), html
    assert " ".join(html_to_text(html).split()) == " ".join(text.split())


def test_highlight_marks_spans_per_format() -> None:
    text, spans = "a <Putin> b", [(2, 9)]
    assert highlight(text, spans, "text") == "a «<Putin>» b"
    assert highlight(text, spans, "markdown") == r"a **\<Putin\>** b"
    assert highlight(text, spans, "html") == "a <b>&lt;Putin&gt;</b> b"


TRAP = "[click me](http://evil.example/) <b>x</b> *bold* & # not a heading"


@pytest.mark.parametrize(("format", "to_html"), [
    ("markdown", markdown_to_html),
    ("html", lambda text: text),
    ("text", lambda text: markdown_to_html(text_to_markdown(text))),
])
def test_a_title_blended_into_the_body_is_escaped_like_the_body(format, to_html) -> None:
    """A service without a title field gets the title in the body, in the body's format."""
    title = service_title(TRAP, format, blended=True)
    html = to_html(title) if format != "text" else to_html(TRAP)
    assert "<a " not in html and "<b>" not in html and "<em>" not in html
    assert html_to_text(html).strip() == TRAP


def test_a_title_field_gets_the_title_as_plain_text() -> None:
    assert service_title(TRAP, "text", blended=False) == TRAP
    assert service_title(TRAP, "markdown", blended=False) == TRAP.replace("<", "‹").replace(
        ">", "›")


# Chat services without a title field, reached on loopback: Apprise pastes the title into
# the Markdown they post, which the server renders. Mattermost only with format = "markdown":
# Apprise declares it a plain-text service, so it would post HTML or text channels' bodies
# unescaped too (the README says to use Markdown for it).
CHAT_SERVICES = {
    "rocketchat": "rocket://abcdefghijk/lmnopqrstuvwxyz0123456789@{host}/%23news",
    "mattermost": "mmost://{host}/abcdefghijklmnop",
}


@pytest.mark.parametrize(("service", "format"), [
    ("rocketchat", "markdown"), ("rocketchat", "html"), ("rocketchat", "text"),
    ("mattermost", "markdown"),
])
def test_a_chat_server_without_titles_gets_the_headline_as_literal_text(
    service: str, format: str, webhook: WebhookReceiver
) -> None:
    message = render_alert(channel(format), facts(headline=TRAP))
    url = CHAT_SERVICES[service].format(host=webhook.url.removeprefix("http://"))
    assert send_to_url(url, message).ok
    [posted] = webhook.requests
    html = markdown_to_html(posted.json["text"])  # rendered as the chat server does
    first_line = html.split("\n")[0]
    assert "<a " not in first_line and "<b>" not in first_line, first_line
    assert "<em>" not in first_line, first_line
    assert f"[Putin in Pyongyang] {TRAP}" in html_to_text(first_line)


def test_titles_are_one_short_line() -> None:
    assert safe_title("a\n  b\tc", "text") == "a b c"
    long = safe_title("x" * 400, "markdown")
    assert len(long) == 250 and long.endswith("…")


def test_custom_templates_see_every_documented_variable() -> None:
    names = [
        "rule", "query", "headline", "link", "source", "outlet", "other_outlets|join(',')",
        "outlet_count", "published.strftime('%H:%M')", "published_text", "timezone",
        "language", "authors|join(',')", "snippet", "story_id",
    ]
    body = "\n".join("{{ " + name + " }}" for name in names)
    message = render_alert(
        channel("text", timezone="Europe/Paris",
                templates={"body": body, "title": "T {{ rule }}"}),
        facts(headline="H"),
    )
    assert message.title == "T Putin in Pyongyang"
    assert message.body.split("\n") == [
        "Putin in Pyongyang", "Putin visit Pyongyang", "H", SAMPLE_FACTS.link,
        "The Daily Example", "example.org", "example.net", "2", "23:41",
        "2024-06-18 23:41 CEST", "Europe/Paris", "en", "Jane Doe",
        f"{EVIL} «Putin» visits «Pyongyang».", "1",
    ]


def test_digests_list_every_story_in_each_format() -> None:
    stories = [facts(headline=f"Story {n} <b>") for n in range(3)]
    for format in ("text", "markdown", "html"):
        message = render_digest(channel(format), stories, "digest")
        assert message.title == "[Putin in Pyongyang] 3 new stories"
        shown = html_to_text(markdown_to_html(message.body)) if format == "markdown" else (
            html_to_text(message.body) if format == "html" else message.body)
        for n in range(3):
            assert f"Story {n} <b>" in shown


def test_templates_are_sandboxed_and_strict() -> None:
    with pytest.raises(AlertTemplateError, match="unsafe"):
        render("{{ headline.__class__.__mro__ }}", "text", {"headline": "x"})
    with pytest.raises(AlertTemplateError, match="'headlin' is undefined"):
        render("{{ headlin }}", "text", {"headline": "x"})
    with pytest.raises(AlertTemplateError, match="line 2"):
        render("ok\n{% if %}", "text", {})


def test_a_template_failing_on_real_data_falls_back_to_the_default(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broken = channel("text", templates={"body": "{{ authors[5] }}"})
    message = render_alert(broken, facts(headline="H"))
    assert message.body.startswith("H\n")
    assert "template failed" in caplog.text

"""The loopback servers do what the fixtures promise."""

from __future__ import annotations

import http.client
import smtplib
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import apprise
import pytest
import sqlalchemy as sa
from servers import (
    SEED_SITE,
    PostgresUnavailable,
    SiteServer,
    SMTPServer,
    WebhookReceiver,
    create_postgres_database,
    free_port,
    freshen_dates,
)

STORY = "/2024/06/18/putin-hails-north-korea-support-ahead-of-pyongyang-visit/"


def fetch(
    url: str, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=5)
    try:
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        connection.request(method, target, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def test_site_serves_indexes_with_its_own_host(seed_site: SiteServer) -> None:
    base = seed_site.base_url
    status, headers, body = fetch(base + "/feed/?utm_source=x")
    assert status == 200
    assert headers["Content-Type"].startswith("application/rss+xml")
    assert f"<link>{base}/2024/06/18/harbour-city-lift-regional-cup/?utm_" in body.decode()
    assert b"news.example.test" not in body
    for path, kind in [
        ("/", "text/html"),
        (STORY, "text/html"),
        ("/news-sitemap.xml", "application/xml"),
        ("/robots.txt", "text/plain"),
    ]:
        status, headers, body = fetch(base + path)
        assert (status, headers["Content-Type"].split(";")[0]) == (200, kind), path
        assert b"news.example.test" not in body
    assert fetch(base + "/2024/06/18/no-such-story/")[0] == 404
    status, headers, _ = fetch(base + STORY.rstrip("/") + "?a=1")
    assert (status, headers["Location"]) == (301, base + STORY + "?a=1")
    assert seed_site.count("/feed/") == 1
    assert seed_site.paths()[-1] == STORY.rstrip("/") + "?a=1"


def test_fresh_dates_are_recent_and_leave_url_paths_alone(seed_site: SiteServer) -> None:
    now = datetime.now(UTC)
    page = fetch(seed_site.base_url + STORY)[2].decode()
    assert "2024-06-18" not in page and "June 18, 2024" not in page
    assert f"{seed_site.base_url}/2024/06/18/putin-hails" in page
    assert 'href="/2024/06/19/putin-visits-pyongyang' in page
    start = page.index('article:published_time" content="') + 33
    published = datetime.fromisoformat(page[start : start + 25])
    assert now - timedelta(days=1) <= published <= now
    feed = fetch(seed_site.base_url + "/feed/")[2].decode()
    assert "Jun 2024" not in feed and "/2024/06/18/" in feed
    for stamp in feed.split("<pubDate>")[1:]:
        published = parsedate_to_datetime(stamp.split("<")[0])
        assert now - timedelta(days=1) <= published <= now
        assert stamp.startswith(published.strftime("%a, %d %b %Y"))


def test_freshen_dates_never_dates_the_future() -> None:
    now = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)  # a Monday
    text = (
        '<meta content="2024-06-18T09:41:00+00:00"> Tuesday, June 18, 2024 '
        "<pubDate>Tue, 18 Jun 2024 21:05:00 +0000</pubDate> June 18, 2024 "
        '<a href="/2024/06/18/x/"> /archive/2024-06-18/'
    )
    assert freshen_dates(text, now) == (
        '<meta content="2025-03-10T09:41:00+00:00"> Monday, March 10, 2025 '
        "<pubDate>Sun, 09 Mar 2025 21:05:00 +0000</pubDate> March 10, 2025 "
        '<a href="/2024/06/18/x/"> /archive/2024-06-18/'
    )
    late = "2024-06-18T21:05:00+00:00 Tuesday, June 18, 2024"
    assert freshen_dates(late, now) == "2025-03-09T21:05:00+00:00 Sunday, March 9, 2025"
    assert freshen_dates("2024-06-18", now, old=date(2024, 6, 18)) == "2025-03-10"


def test_conditional_get_answers_304(seed_site: SiteServer) -> None:
    url = seed_site.base_url + "/feed/"
    _, headers, body = fetch(url)
    etag, last_modified = headers["ETag"], headers["Last-Modified"]
    assert fetch(url, headers={"If-None-Match": etag})[::2] == (304, b"")
    assert fetch(url, headers={"If-Modified-Since": last_modified})[::2] == (304, b"")
    assert fetch(url, headers={"If-None-Match": '"stale"'})[::2] == (200, body)
    assert [r.status for r in seed_site.requests] == [200, 304, 304, 200]
    assert seed_site.requests[1].headers["If-None-Match"] == etag


def test_routes_and_added_files(seed_site: SiteServer) -> None:
    base = seed_site.base_url
    seed_site.set_route("/feed/", status=500, body="boom", content_type="text/plain")
    assert fetch(base + "/feed/?x=1")[::2] == (500, b"boom")
    seed_site.clear_route("/feed/")
    assert fetch(base + "/feed/")[0] == 200
    seed_site.add_file("/2024/06/19/new-story/", '<a href="http://news.example.test/x/">x</a>')
    status, _, body = fetch(base + "/2024/06/19/new-story/")
    assert (status, body) == (200, f'<a href="{base}/x/">x</a>'.encode())
    feed = seed_site.read_text("feed/index.xml").replace("<item>", "<item><title>New</title>", 1)
    seed_site.add_file("feed/index.xml", feed)
    assert b"<item><title>New</title>" in fetch(base + "/feed/")[2]
    seed_site.clear_log()
    assert seed_site.paths() == []


def test_site_on_another_loopback_address() -> None:
    with SiteServer(SEED_SITE, host="127.0.0.2") as site:
        assert site.base_url.startswith("http://127.0.0.2:")
        status, _, body = fetch(site.base_url + "/robots.txt")
        assert status == 200 and f"Sitemap: {site.base_url}/news-sitemap.xml".encode() in body


def test_webhook_answers_its_status_sequence() -> None:
    with WebhookReceiver(statuses=[500, 503]) as receiver:
        statuses = [fetch(receiver.url + "/hook", "POST", b'{"n": 1}')[0] for _ in range(3)]
        assert statuses == [500, 503, 200]
        assert receiver.wait_for(3, timeout=1)
        assert not receiver.wait_for(4, timeout=0.05)
        assert [(r.path, r.json, r.status) for r in receiver.requests][-1] == (
            "/hook",
            {"n": 1},
            200,
        )


def send_mail(server: SMTPServer, subject: str) -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@example.org", "b@example.org", subject
    message.set_content("Körper")
    with smtplib.SMTP(server.host, server.port, timeout=5) as client:
        client.send_message(message)


def test_smtp_receives_mail_and_survives_a_restart(smtp_server: SMTPServer) -> None:
    send_mail(smtp_server, "first")
    assert smtp_server.wait_for(1, timeout=2)
    mail = smtp_server.mails[0]
    assert (mail.mail_from, mail.rcpt_tos) == ("a@example.org", ["b@example.org"])
    assert mail.message["Subject"] == "first"
    assert mail.message.get_content().strip() == "Körper"
    port = smtp_server.port
    smtp_server.stop()
    with pytest.raises(OSError):
        send_mail(smtp_server, "lost")
    smtp_server.start()
    assert smtp_server.port == port
    send_mail(smtp_server, "second")
    assert smtp_server.wait_for(2, timeout=2)
    assert [m["Subject"] for m in smtp_server.messages] == ["first", "second"]


def test_apprise_mailto_delivers_plain_smtp(smtp_server: SMTPServer) -> None:
    notifier = apprise.Apprise()
    assert notifier.add(
        f"mailto://{smtp_server.host}:{smtp_server.port}"
        "?from=newswatch@example.org&to=desk@example.org"
    )
    assert notifier.notify(title="Putin visits Pyongyang", body="A story matched.")
    assert smtp_server.wait_for(1, timeout=2)
    mail = smtp_server.mails[0]
    assert (mail.mail_from, mail.rcpt_tos) == ("newswatch@example.org", ["desk@example.org"])
    assert mail.message["Subject"] == "Putin visits Pyongyang"
    assert mail.message["To"] == "desk@example.org"
    body = mail.message.get_body(("plain",))
    assert body is not None and "A story matched." in body.get_content()


def test_apprise_json_posts_to_the_webhook(webhook: WebhookReceiver) -> None:
    notifier = apprise.Apprise()
    assert notifier.add(f"json://127.0.0.1:{webhook.port}/alerts")
    assert notifier.notify(title="Putin visits Pyongyang", body="A story matched.")
    webhook.set_statuses([500])
    assert not notifier.notify(title="again", body="fails")
    request = webhook.requests[0]
    assert (request.method, request.path) == ("POST", "/alerts")
    assert request.headers["Content-Type"].startswith("application/json")
    assert request.json == {
        "version": "1.0",
        "title": "Putin visits Pyongyang",
        "message": "A story matched.",
        "attachments": [],
        "type": "info",
    }
    assert [r.status for r in webhook.requests] == [200, 500]


def test_postgres_database_is_created_and_dropped(postgres_url: str) -> None:
    with create_postgres_database() as url:
        name = url.rsplit("/", 1)[1]
        assert name.startswith("newswatch_test_")
        engine = sa.create_engine(url)
        leftover = engine.connect()  # left open on purpose: the drop must not wait for it
        assert leftover.scalar(sa.text("SELECT current_database()")) == name
    engine.dispose()
    admin = sa.create_engine(postgres_url)
    with admin.connect() as connection:
        exists = connection.scalar(
            sa.text("SELECT count(*) FROM pg_database WHERE datname = :n"), {"n": name}
        )
    admin.dispose()
    assert exists == 0


def test_unreachable_postgres_is_a_clear_error() -> None:
    with (
        pytest.raises(PostgresUnavailable, match="NEWSWATCH_SKIP_POSTGRES=1"),
        create_postgres_database(port=free_port()),
    ):
        pass


def test_database_url_connects(database_url: str) -> None:
    engine = sa.create_engine(database_url)
    with engine.connect() as connection:
        assert connection.scalar(sa.text("SELECT 1")) == 1
    engine.dispose()
    assert database_url.split(":")[0] in ("sqlite", "postgresql+psycopg")

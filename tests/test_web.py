"""The web app as a browser, an API client and a feed reader meet it: login, CSRF, bearer
tokens, masking and escaping, the API writing config.toml, feeds that parse."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import feedparser
import pytest
from servers import WebhookReceiver
from test_end_to_end import NEWSWATCH, newswatch
from web_fixtures import HOSTILE, PASSWORD, SECRET, WebSetup, csrf_of, make_setup

from scheduler.web.app import create_app
from scheduler.web.security import LoginLimiter, hash_password, verify_password

PAGES = ["/", "/sources", "/rules", "/rules/new", "/rules/preview?query=Putin", "/stories",
         "/stories/1", "/articles/1", "/alerts", "/channels"]
API_READS = ["/api/v1/status", "/api/v1/sources", "/api/v1/rules", "/api/v1/rules/Putin",
             "/api/v1/rules/preview?query=Putin", "/api/v1/stories", "/api/v1/stories/1",
             "/api/v1/articles", "/api/v1/articles/1", "/api/v1/alerts", "/api/v1/channels",
             "/api/v1/openapi.json"]


@pytest.fixture
def web(tmp_path: Path, webhook: WebhookReceiver) -> Iterator[WebSetup]:
    yield from make_setup(tmp_path, webhook)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_password_is_stored_as_a_slow_salted_hash() -> None:
    stored = hash_password(PASSWORD)
    assert stored.startswith("scrypt$32768$8$3$") and PASSWORD not in stored
    assert stored != hash_password(PASSWORD)  # salted
    assert verify_password(PASSWORD, stored) and not verify_password("wrong", stored)


def test_no_page_and_no_api_without_login_or_token(web: WebSetup) -> None:
    client = web.client()
    for page in PAGES:
        response = client.get(page)
        assert response.status_code == 303, page
        assert response.headers["location"].startswith("/login"), page
    for endpoint in API_READS:
        assert client.get(endpoint).status_code == 401, endpoint
        assert client.get(endpoint, headers=bearer("nw_wrong")).status_code == 401, endpoint
        assert client.get(endpoint, headers={"Authorization": "Basic eDp5"}).status_code == 401
    assert client.post("/api/v1/rules", json={"name": "x", "query": "y",
                                              "channels": ["desk"]}).status_code == 401
    assert 'name = "x"' not in web.config_file.read_text()


def test_a_token_opens_the_api_and_revoking_it_closes_it(web: WebSetup) -> None:
    client = web.client()
    for endpoint in API_READS:
        assert client.get(endpoint, headers=bearer(web.token)).status_code == 200, endpoint
    assert newswatch(web.config_file, "web", "token", "revoke", "tests").returncode == 0
    assert client.get("/api/v1/status", headers=bearer(web.token)).status_code == 401


def test_login_sets_a_protected_session_cookie(web: WebSetup) -> None:
    client = web.client()
    page = client.get("/login")
    wrong = client.post("/login", data={"password": "nope", "csrf_token": csrf_of(page.text)})
    assert wrong.status_code == 401 and "Wrong password" in wrong.text
    right = client.post("/login", data={"password": PASSWORD, "csrf_token": csrf_of(page.text),
                                        "next": "/\\evil.test/"})
    assert right.status_code == 303 and right.headers["location"] == "/"  # no open redirect
    cookie = right.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    for page in PAGES:
        assert client.get(page).status_code == 200, page

    tls = web.client("https://testserver")
    page = tls.get("/login")
    response = tls.post("/login", data={"password": PASSWORD, "csrf_token": csrf_of(page.text)})
    assert "secure" in response.headers["set-cookie"].lower()


def test_logins_are_rate_limited(web: WebSetup) -> None:
    client = client_with_limiter(web, LoginLimiter(attempts=3, window=60))
    csrf = csrf_of(client.get("/login").text)
    for _ in range(3):
        assert client.post("/login", data={"password": "guess", "csrf_token": csrf}
                           ).status_code == 401
    refused = client.post("/login", data={"password": PASSWORD, "csrf_token": csrf})
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0


def client_with_limiter(web: WebSetup, limiter: LoginLimiter):
    from fastapi.testclient import TestClient

    return TestClient(create_app(web.app, web.config_file, limiter=limiter),
                      follow_redirects=False)


def test_a_cross_site_post_is_refused(web: WebSetup) -> None:
    client = web.logged_in()
    form = {"name": "Forged", "query": "anything", "channels": "desk"}
    assert client.post("/rules", data=form).status_code == 403  # no token
    csrf = csrf_of(client.get("/rules/new").text)
    evil = client.post("/rules", data={**form, "csrf_token": csrf},
                       headers={"Origin": "http://evil.test"})
    assert evil.status_code == 403
    assert client.post("/login", data={"password": PASSWORD}).status_code == 403
    # The API with the browser's cookie needs the CSRF header too.
    api = client.post("/api/v1/rules", json={"name": "Forged", "query": "x",
                                             "channels": ["desk"]})
    assert api.status_code == 403
    assert "Forged" not in web.config_file.read_text()
    ok = client.post("/rules", data={**form, "csrf_token": csrf})
    assert ok.status_code == 303 and "Forged" in web.config_file.read_text()


def test_markup_in_a_headline_is_shown_as_text_everywhere(web: WebSetup) -> None:
    client = web.logged_in()
    story_id = next(s["id"] for s in client.get("/api/v1/stories").json()
                    if s["headline"] == HOSTILE)
    for page in ["/", "/stories", f"/stories/{story_id}", "/alerts",
                 "/rules/preview?query=Putin", "/articles/1"]:
        html = client.get(page).text
        assert "<script>alert" not in html, page
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html, page
        assert '<a href="http://evil.test/' not in html, page
        assert "**bold** [click](http://evil.test/)" in html, page
    feed = feedparser.parse(client.get(_feed_links(client)["atom"]).content)
    assert HOSTILE in [entry.title for entry in feed.entries]


def test_channel_secrets_are_never_shown(web: WebSetup) -> None:
    client = web.logged_in()
    for page in ["/channels", "/alerts", "/api/v1/channels", "/api/v1/alerts"]:
        response = client.get(page)
        assert response.status_code == 200
        assert SECRET not in response.text, page
    assert "json://" in client.get("/channels").text


def test_the_rule_preview_highlights_what_matched_and_where(web: WebSetup) -> None:
    client = web.client()
    found = client.get("/api/v1/rules/preview", params={"query": "title:Putin Pyongyang"},
                       headers=bearer(web.token)).json()
    assert {story["headline"] for story in found} == {HOSTILE, "Putin meets Kim"}
    kim = next(story for story in found if story["headline"] == "Putin meets Kim")
    assert {"term": "Putin", "field": "title"} in kim["clauses"]
    assert {"term": "Pyongyang", "field": "body"} in kim["clauses"]
    start, end = kim["highlights"][0]
    assert kim["snippet"][start:end] == "Pyongyang"
    html = web.logged_in().get("/rules/preview", params={"query": "Pyongyang"}).text
    assert "<mark>Pyongyang</mark>" in html and "2</strong> stories" in html
    for filters, expected in [({"source": "Wire"}, 2), ({"source": "Elsewhere"}, 0),
                              ({"language": "en"}, 2), ({"language": "de"}, 0)]:
        filtered = client.get("/api/v1/rules/preview",
                              params={"query": "Pyongyang", **filters},
                              headers=bearer(web.token)).json()
        assert len(filtered) == expected, filters
    bad = client.get("/api/v1/rules/preview", params={"query": "Putin AND ("},
                     headers=bearer(web.token))
    assert bad.status_code == 422 and "invalid query" in bad.json()["detail"]["message"]


def test_api_changes_go_into_config_toml_with_its_comments(web: WebSetup) -> None:
    client = web.client()
    created = client.post("/api/v1/rules", headers=bearer(web.token), json={
        "name": "Kim", "query": "Kim Pyongyang", "channels": ["desk"], "min_outlets": 2})
    assert created.status_code == 201, created.text
    assert "no newswatch daemon is running" in created.json()["reload"]
    text = web.config_file.read_text()
    assert "# where alerts go" in text and 'name = "Putin"   # the rule under test' in text
    assert 'query = "Kim Pyongyang"' in text and "min_outlets = 2" in text
    changed = client.patch("/api/v1/rules/Kim", headers=bearer(web.token),
                           json={"query": "Kim", "min_outlets": None})
    assert changed.status_code == 200
    assert "min_outlets" not in web.config_file.read_text()
    assert client.get("/api/v1/rules/Kim", headers=bearer(web.token)).json()["query"] == "Kim"
    assert client.delete("/api/v1/rules/Kim", headers=bearer(web.token)).status_code == 200
    assert "Kim" not in web.config_file.read_text()
    assert client.delete("/api/v1/rules/Kim", headers=bearer(web.token)).status_code == 404


def test_an_invalid_change_is_refused_with_config_check_s_messages(web: WebSetup) -> None:
    before = web.config_file.read_text()
    refused = web.client().post("/api/v1/rules", headers=bearer(web.token), json={
        "name": "Lost", "query": "x", "channels": ["nowhere"]})
    assert refused.status_code == 422
    problems = refused.json()["detail"]["problems"]
    assert web.config_file.read_text() == before
    # `config check` on the same change written by hand says the same (but for the line:
    # the web's rule has one more, its stable id).
    web.config_file.write_text(
        before + '\n[[rules]]\nname = "Lost"\nquery = "x"\nchannels = ["nowhere"]\n')
    cli = newswatch(web.config_file, "config", "check")
    web.config_file.write_text(before)
    assert cli.returncode == 2

    def unnumbered(line: str) -> str:
        return re.sub(r"config\.toml:\d+:", "config.toml:N:", line)

    assert [unnumbered(f"newswatch: config error: {p}") for p in problems] == [
        unnumbered(line) for line in cli.stderr.splitlines()]
    assert re.search(r"config\.toml:\d+: ", problems[0])
    assert "rules[1].channels[0]: unknown channel 'nowhere' (channels: desk)" in problems[0]
    # A channel URL Apprise cannot use is refused the same way, and the page says so.
    client = web.logged_in()
    csrf = csrf_of(client.get("/channels").text)
    page = client.post("/channels/desk", data={"format": "text", "url": "nosuch://x",
                                               "csrf_token": csrf})
    assert page.status_code == 422 and "not a URL Apprise can use" in page.text
    assert web.config_file.read_text() == before


def test_failed_alerts_can_be_retried(web: WebSetup) -> None:
    from sqlalchemy import update

    from alerts.models import Notification

    with web.app.sessions.begin() as session:
        session.execute(update(Notification).values(status="failed", last_error="boom"))
    client = web.client()
    failed = client.get("/api/v1/alerts", params={"status": "failed"},
                        headers=bearer(web.token)).json()
    assert len(failed) == 2
    answer = client.post("/api/v1/alerts/retry", headers=bearer(web.token),
                         json={"failed": True})
    assert sorted(answer.json()["requeued"]) == sorted(a["id"] for a in failed)
    assert client.get("/api/v1/alerts", params={"status": "failed"},
                      headers=bearer(web.token)).json() == []


def _feed_links(client) -> dict[str, str]:
    html = client.get("/rules").text
    atom = html.split('class="feed-atom"')[0].rsplit('href="', 1)[1].split('"')[0]
    json_feed = html.split('class="feed-json"')[0].rsplit('href="', 1)[1].split('"')[0]
    return {"atom": atom.removeprefix("http://testserver"),
            "json": json_feed.removeprefix("http://testserver")}


def test_each_rule_has_atom_and_json_feeds_under_a_secret_token(web: WebSetup) -> None:
    browser = web.logged_in()
    links = _feed_links(browser)
    reader = web.client()  # a feed reader: no cookie, no token but the feed's own
    atom = reader.get(links["atom"])
    assert atom.status_code == 200 and atom.headers["content-type"].startswith(
        "application/atom+xml")
    feed = feedparser.parse(atom.content)
    assert not feed.bozo and feed.feed.title == "newswatch rule: Putin"
    assert {entry.link for entry in feed.entries} == {"http://wire.test/0",
                                                      "http://wire.test/1"}
    items = reader.get(links["json"]).json()["items"]
    assert {item["url"] for item in items} == {"http://wire.test/0", "http://wire.test/1"}
    assert reader.get("/feeds/" + "0" * 32 + ".atom").status_code == 404
    channel = browser.get("/channels").text
    assert "/feeds/" in channel


def test_serve_refuses_a_public_address_without_a_password(tmp_path: Path,
                                                           webhook: WebhookReceiver) -> None:
    from web_fixtures import CONFIG, hook_url

    config = tmp_path / "config.toml"
    config.write_text(CONFIG.format(hook=hook_url(webhook)))
    refused = newswatch(config, "serve", "--host", "0.0.0.0", "--port", "9")
    assert refused.returncode == 2 and "without a password" in refused.stderr


def test_tokens_from_the_command_line(web: WebSetup) -> None:
    created = newswatch(web.config_file, "web", "token", "create", "ci")
    assert created.returncode == 0
    token = created.stdout.strip()
    listed = newswatch(web.config_file, "web", "token", "list")
    assert "ci  nw_" in listed.stdout and token not in listed.stdout
    assert web.client().get("/api/v1/status", headers=bearer(token)).status_code == 200
    assert newswatch(web.config_file, "web", "token", "create", "ci").returncode == 2
    assert newswatch(web.config_file, "web", "token", "revoke", "nope").returncode == 2


def test_newswatch_serve_answers_on_loopback(web: WebSetup, unused_port: int) -> None:
    import urllib.error
    import urllib.request

    server = subprocess.Popen([NEWSWATCH, "--config", str(web.config_file), "serve",
                               "--port", str(unused_port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{unused_port}/api/v1/status", headers=bearer(web.token))
                with urllib.request.urlopen(request, timeout=5) as answer:
                    status = json.load(answer)
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline and server.poll() is None
                time.sleep(0.3)
        assert status["alerts"] == {"pending": 0, "failed": 0}
        assert status["last_24h"]["alerts_sent"] == 2
    finally:
        server.terminate()
        server.wait(10)


@pytest.fixture
def unused_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for(url: str, headers: dict[str, str], process: subprocess.Popen) -> dict:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                        timeout=5) as answer:
                return json.load(answer)
        except (urllib.error.URLError, ConnectionError):
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.3)


def test_the_daemon_serves_the_app_and_reloads_what_it_saves(web: WebSetup,
                                                             unused_port: int) -> None:
    import signal
    import urllib.request

    with web.config_file.open("a") as config:
        config.write(f"\n[web]\nenabled = true\nport = {unused_port}\n")
    daemon = subprocess.Popen([NEWSWATCH, "--config", str(web.config_file), "run"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{unused_port}/api/v1"
    try:
        status = _wait_for(f"{base}/status", bearer(web.token), daemon)
        assert status["daemon"]["running"]
        request = urllib.request.Request(
            f"{base}/rules", method="POST", headers={**bearer(web.token),
                                                     "Content-Type": "application/json"},
            data=json.dumps({"name": "Kim", "query": "Kim", "channels": ["desk"]}).encode())
        with urllib.request.urlopen(request, timeout=30) as answer:
            saved = json.load(answer)
        assert saved["saved"] and "reloaded its config: rules +Kim" in saved["reload"]
    finally:
        daemon.send_signal(signal.SIGTERM)
        _, log = daemon.communicate(timeout=60)
    assert "web app on http://127.0.0.1" in log
    assert "config reloaded" in log and "+Kim" in log


def test_renaming_a_rule_keeps_its_history_and_never_re_alerts(web: WebSetup) -> None:
    from crawler.models import Article, Source, Story
    from scheduler.reload import reload_app

    client = web.client()
    renamed = client.patch("/api/v1/rules/Putin", headers=bearer(web.token),
                           json={"name": "Kremlin"})
    assert renamed.status_code == 200, renamed.text
    text = web.config_file.read_text()
    assert 'name = "Kremlin"' in text and 'id = "r' in text
    assert "# the rule under test" in text
    reload_app(web.app)  # what the daemon does on the reload the API asked for
    history = client.get("/api/v1/alerts", params={"rule": "Kremlin"},
                         headers=bearer(web.token)).json()
    assert len(history) == 2
    # A copy of an already alerted story arrives: no second alert under the new name.
    with web.app.sessions.begin() as session:
        story = session.query(Story).filter_by(headline="Putin meets Kim").one()
        source = session.query(Source).filter_by(name="Wire").one()
        session.add(Article(source=source, url="http://other.test/kim", title="Putin meets Kim",
                            body="The leaders met in Pyongyang.", language="en",
                            content_hash="copy", story_id=story.id))
    report = web.app.match()
    assert report.matches == 1 and report.notifications == 0
    assert len(client.get("/api/v1/alerts", headers=bearer(web.token)).json()) == 2


def test_channels_are_added_and_removed_through_the_editor(web: WebSetup) -> None:
    client = web.client()
    auth = bearer(web.token)
    bad = client.post("/api/v1/channels", headers=auth,
                      json={"name": "ops", "urls": ["nosuch://x"]})
    assert bad.status_code == 422
    assert "not a URL Apprise can use" in bad.json()["detail"]["problems"][0]
    added = client.post("/api/v1/channels", headers=auth, json={
        "name": "ops", "urls": ["json://bot:topsecret@127.0.0.1:9/ops"], "format": "markdown"})
    assert added.status_code == 201, added.text
    text = web.config_file.read_text()
    assert "[channels.ops]" in text and 'id = "c' in text and "# where alerts go" in text
    listed = {c["name"]: c for c in client.get("/api/v1/channels", headers=auth).json()}
    assert listed["ops"]["format"] == "markdown" and "topsecret" not in str(listed)
    assert client.post("/api/v1/channels", headers=auth, json={
        "name": "ops", "urls": ["log://"]}).status_code == 422
    in_use = client.delete("/api/v1/channels/desk", headers=auth)
    assert in_use.status_code == 422
    assert "unknown channel 'desk'" in in_use.json()["detail"]["problems"][0]
    assert client.delete("/api/v1/channels/ops", headers=auth).status_code == 200
    assert "[channels.ops]" not in web.config_file.read_text()
    browser = web.logged_in()
    csrf = csrf_of(browser.get("/channels").text)
    page = browser.post("/channels", data={"name": "pager", "url": "log://", "format": "text",
                                           "csrf_token": csrf})
    assert page.status_code == 303 and "[channels.pager]" in web.config_file.read_text()


def test_out_of_range_ids_are_refused_not_crashed_on(web: WebSetup) -> None:
    client = web.logged_in()
    for page in ["/stories/99999999999999999999", "/articles/99999999999999999999",
                 "/api/v1/stories/99999999999999999999", "/stories/0"]:
        assert client.get(page).status_code == 422, page
    assert client.get("/stories/424242").status_code == 404
    csrf = csrf_of(client.get("/alerts").text)
    assert client.post("/alerts/retry", data={"ids": "99999999999999999999",
                                              "csrf_token": csrf}).status_code == 422


def test_the_sources_page_tells_health_skips_and_next_poll(web: WebSetup) -> None:
    from datetime import timedelta

    from crawler.models import CrawlEntry, Source, utcnow

    now = utcnow()
    with web.app.sessions.begin() as session:
        source = session.query(Source).filter_by(name="Wire").one()
        source.last_polled_at, source.last_status = now, "error"
        source.last_error, source.error_count = "HTTP 503 from the feed", 6
        source.unhealthy_since = now - timedelta(hours=2)
        source.next_poll_at = now + timedelta(minutes=40)
        source.poll_interval_seconds = 3600
        for n in range(3):
            session.add(CrawlEntry(url_key=str(n) * 64, url=f"http://wire.test/old/{n}",
                                   source_id=source.id, state="skipped",
                                   expires_at=now + timedelta(days=1)))
    html = web.logged_in().get("/sources").text
    assert "HTTP 503 from the feed" in html
    assert "3 entries older than 3d skipped" in html
    assert "backing off after 6 failures in a row" in html  # as `newswatch status` says
    listed = web.client().get("/api/v1/sources", headers=bearer(web.token)).json()
    assert listed[0]["entries"] == {"skipped": 3} and not listed[0]["healthy"]


def test_retry_with_nothing_checked_requeues_nothing(web: WebSetup) -> None:
    from sqlalchemy import update

    from alerts.models import Notification

    with web.app.sessions.begin() as session:
        session.execute(update(Notification).values(status="failed", last_error="boom"))
    client = web.logged_in()
    csrf = csrf_of(client.get("/alerts").text)
    answer = client.post("/alerts/retry", data={"csrf_token": csrf})
    assert answer.status_code == 303
    still_failed = client.get("/api/v1/alerts", params={"status": "failed"},
                              headers=bearer(web.token)).json()
    assert len(still_failed) == 2


def test_a_duration_too_long_for_the_calendar_is_refused_not_crashed_on(
    web: WebSetup
) -> None:
    client = web.logged_in()
    api = client.get("/api/v1/stories", params={"since": "99999999d"},
                     headers=bearer(web.token))
    assert api.status_code == 422 and "at most 100 years" in api.text
    assert client.get("/stories", params={"since": "99999999d"}).status_code < 500
    preview = client.get("/api/v1/rules/preview", params={"query": "Putin",
                                                          "since": "99999999d"},
                         headers=bearer(web.token))
    assert preview.status_code == 422


def test_behind_a_reverse_proxy_forms_from_the_public_address_are_accepted(
    web: WebSetup
) -> None:
    text = web.config_file.read_text()
    web.config_file.write_text(text + '\n[web]\nbase_url = "https://news.example.org/"\n')
    client = web.logged_in()  # the proxy passes Host: testserver (its upstream)
    csrf = csrf_of(client.get("/rules/new").text)
    form = {"name": "Proxied", "query": "anything", "channels": "desk", "csrf_token": csrf}
    answer = client.post("/rules", data=form, headers={"Origin": "https://news.example.org"})
    assert answer.status_code == 303 and "Proxied" in web.config_file.read_text()
    forged = client.post("/rules", data={**form, "name": "Forged"},
                         headers={"Origin": "https://evil.example"})
    assert forged.status_code == 403


def test_a_daemon_whose_web_port_is_taken_says_so_and_keeps_running(
    web: WebSetup, unused_port: int
) -> None:
    import signal
    import socket

    with web.config_file.open("a") as config:
        config.write(f"\n[web]\nenabled = true\nport = {unused_port}\n")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", unused_port))
        taken.listen()
        daemon = subprocess.Popen([NEWSWATCH, "--config", str(web.config_file), "run"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            time.sleep(8)  # the start, the web app's attempt, a first cycle
            assert daemon.poll() is None  # the daemon goes on without its web app
        finally:
            daemon.send_signal(signal.SIGTERM)
            _, log = daemon.communicate(timeout=60)
    assert f"web app not started: could not listen on 127.0.0.1:{unused_port}" in log
    assert "web app on http://" not in log


def test_serve_on_a_taken_port_says_so_in_one_line(web: WebSetup, unused_port: int) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", unused_port))
        taken.listen()
        result = subprocess.run([NEWSWATCH, "--config", str(web.config_file), "serve",
                                 "--port", str(unused_port)],
                                capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1
    assert result.stderr.startswith(f"newswatch: cannot listen on 127.0.0.1:{unused_port}: ")
    assert "web app on" not in result.stderr and "Traceback" not in result.stderr


def test_a_token_s_last_use_is_kept_to_the_minute_without_a_write_per_request(
    web: WebSetup
) -> None:
    from scheduler.web import security

    def last_used() -> object:
        (info,) = security.list_tokens(web.app.sessions)
        return info.last_used_at

    client = web.client()
    assert client.get("/api/v1/status", headers=bearer(web.token)).status_code == 200
    first = last_used()
    assert first is not None
    assert client.get("/api/v1/status", headers=bearer(web.token)).status_code == 200
    assert last_used() == first  # the same minute: nothing written

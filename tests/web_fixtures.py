"""A newswatch with a web app for tests: config.toml with comments, a database holding
stories (one whose headline carries markup), alerts matched and delivered for real to a
loopback webhook, a password and an API token."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from fastapi.testclient import TestClient
from servers import WebhookReceiver

from crawler.models import Article, Source, Story, utcnow
from scheduler.app import App
from scheduler.config import load_config
from scheduler.web import security
from scheduler.web.app import create_app

PASSWORD = "correct horse battery"
HOSTILE = '<script>alert("x")</script> Putin **bold** [click](http://evil.test/)'
SECRET = "s3cr3t-hook-token"

CONFIG = """\
# newswatch for the web tests
[storage]
url = "sqlite:///news.db"   # next to this file

[[sources]]
name = "Wire"
url = "http://127.0.0.1:9/feed/"

# where alerts go
[channels.desk]
urls = ["{hook}"]

[[rules]]
name = "Putin"   # the rule under test
query = "Putin"
channels = ["desk"]
"""


@dataclass
class WebSetup:
    config_file: Path
    app: App
    token: str
    webhook: WebhookReceiver

    def client(self, base_url: str = "http://testserver") -> TestClient:
        return TestClient(create_app(self.app, self.config_file), base_url=base_url,
                          follow_redirects=False)

    def logged_in(self, base_url: str = "http://testserver") -> TestClient:
        client = self.client(base_url)
        page = client.get("/login")
        response = client.post("/login", data={"password": PASSWORD, "next": "/",
                                                "csrf_token": csrf_of(page.text)})
        assert response.status_code == 303, response.text
        return client


def csrf_of(page: str) -> str:
    marker = 'name="csrf_token" value="'
    start = page.index(marker) + len(marker)
    return page[start:page.index('"', start)]


def hook_url(webhook: WebhookReceiver) -> str:
    return f"json://bot:{SECRET}@" + webhook.url.removeprefix("http://") + "/hook"


def make_setup(tmp_path: Path, webhook: WebhookReceiver) -> Iterator[WebSetup]:
    config_file = tmp_path / "config.toml"
    config_file.write_text(CONFIG.format(hook=hook_url(webhook)), encoding="utf-8")
    app = App(load_config(config_file))
    app.open()
    now = utcnow()
    with app.sessions.begin() as session:
        source = session.query(Source).filter_by(name="Wire").one()
        for index, (title, body) in enumerate([
            (HOSTILE, "Putin visited Pyongyang on Tuesday, the agency said."),
            ("Putin meets Kim", "The leaders met in Pyongyang to sign an agreement."),
            ("Markets rally", "Stocks rose for the third day."),
        ]):
            session.add(Article(source=source, url=f"http://wire.test/{index}", title=title,
                                body=body, language="en", content_hash=str(index),
                                first_seen_at=now, story=Story(headline=title,
                                                               first_seen_at=now)))
    app.match()
    app.deliver()
    security.set_password(app.sessions, PASSWORD)
    token = security.create_token(app.sessions, "tests")
    try:
        yield WebSetup(config_file, app, token, webhook)
    finally:
        app.close()

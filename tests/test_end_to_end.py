"""The seed story end to end: a real crawl of a local site, real SMTP and webhook delivery."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from servers import SEED_SITE, SiteServer, SMTPServer, WebhookReceiver
from sqlalchemy import select

from alerts.models import Notification, RuleMatch
from crawler.database import make_engine, make_sessionmaker
from crawler.models import Article, Source

NEWSWATCH = str(Path(sys.executable).with_name("newswatch"))
EXPECTED = json.loads((SEED_SITE / "expected.json").read_text(encoding="utf-8"))
SEED_ARTICLE = EXPECTED["articles"][0]
SPORTS_ARTICLE = EXPECTED["articles"][1]


def toml_string(value: str) -> str:
    return json.dumps(value)


def write_config(
    tmp_path: Path,
    database_url: str,
    feed_url: str,
    channel_urls: list[str],
    rules: list[tuple[str, str]] = (("Putin in Pyongyang", "Putin visit Pyongyang"),),
) -> Path:
    urls = ", ".join(toml_string(url) for url in channel_urls)
    rule_tables = "\n".join(
        f'[[rules]]\nname = {toml_string(name)}\nquery = {toml_string(query)}\n'
        f'channels = ["desk"]\n'
        for name, query in rules
    )
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[storage]
url = {toml_string(database_url)}

[crawler]
download_delay = "0s"
download_timeout = "10s"

[[sources]]
name = "The Daily Example"
url = {toml_string(feed_url)}

[channels.desk]
urls = [{urls}]

{rule_tables}
""",
        encoding="utf-8",
    )
    return path


def newswatch(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [NEWSWATCH, "--config", str(config), *args],
        capture_output=True, text=True, timeout=120, check=False,
    )


def stored_articles(database_url: str) -> dict[str, Article]:
    engine = make_engine(database_url)
    try:
        with make_sessionmaker(engine)() as session:
            return {a.url: a for a in session.scalars(select(Article))}
    finally:
        engine.dispose()


def assert_clean_body(body: str, expected: dict) -> None:
    position = 0
    for paragraph in expected["body_paragraphs"]:
        found = body.find(paragraph, position)
        assert found >= 0, f"missing or out of order: {paragraph[:60]}..."
        position = found + len(paragraph)
    for unwanted in expected["must_not_contain"]:
        assert unwanted not in body


def test_seed_story_is_alerted_once_by_email_and_webhook(
    tmp_path: Path, database_url: str, seed_site: SiteServer, smtp_server: SMTPServer,
    webhook: WebhookReceiver,
) -> None:
    mail_url = (
        f"mailto://{smtp_server.host}:{smtp_server.port}"
        "?from=newswatch@example.org&to=desk@example.org"
    )
    hook_url = "json://" + webhook.url.removeprefix("http://") + "/hook"
    config = write_config(
        tmp_path, database_url, f"{seed_site.base_url}/feed/", [mail_url, hook_url]
    )
    seed_link = seed_site.base_url + SEED_ARTICLE["path"]

    first = newswatch(config, "run", "--once")
    assert first.returncode == 0, first.stderr
    assert "Traceback" not in first.stderr

    assert len(smtp_server.messages) == 1
    mail = smtp_server.messages[0]
    assert SEED_ARTICLE["title"] in mail["Subject"]
    mail_body = mail.get_body(("plain",)).get_content()
    assert seed_link in mail_body
    assert "utm_" not in mail_body

    assert len(webhook.requests) == 1
    posted = webhook.requests[0].json
    assert SEED_ARTICLE["title"] in posted["title"]
    assert seed_link in posted["message"]
    assert "utm_" not in posted["message"]

    articles = stored_articles(database_url)
    assert set(articles) == {seed_link, seed_site.base_url + SPORTS_ARTICLE["path"]}
    seed = articles[seed_link]
    assert seed.title == SEED_ARTICLE["title"]
    assert seed.authors == [SEED_ARTICLE["author"]]
    assert_clean_body(seed.body, SEED_ARTICLE)
    assert_clean_body(articles[seed_site.base_url + SPORTS_ARTICLE["path"]].body, SPORTS_ARTICLE)

    seed_site.clear_log()
    second = newswatch(config, "run", "--once")
    assert second.returncode == 0, second.stderr
    assert len(smtp_server.messages) == 1
    assert len(webhook.requests) == 1
    # The unchanged feed is answered 304 and no article page is downloaded again.
    article_fetches = [p for p in seed_site.paths() if p.startswith("/2024/")]
    assert article_fetches == []


@pytest.mark.parametrize("rule", EXPECTED["rules"], ids=lambda rule: rule["query"])
def test_expected_rules_match_exactly_their_articles(
    tmp_path: Path, seed_site: SiteServer, rule: dict, crawled_seed_database: str
) -> None:
    engine = make_engine(crawled_seed_database)
    try:
        with make_sessionmaker(engine)() as session:
            matched = session.scalars(
                select(Article.url).join(RuleMatch).where(RuleMatch.rule == rule["query"])
            ).all()
    finally:
        engine.dispose()
    paths = sorted(url.split("/", 3)[3] for url in matched)
    assert paths == sorted(path.lstrip("/") for path in rule["matches"])


@pytest.fixture(scope="module")
def crawled_seed_database(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The seed site crawled once with every rule of expected.json (alerts to the log)."""
    tmp_path = tmp_path_factory.mktemp("rules")
    database_url = f"sqlite:///{tmp_path / 'rules.db'}"
    with SiteServer(SEED_SITE, fresh_dates=True) as site:
        rules = [(rule["query"], rule["query"]) for rule in EXPECTED["rules"]]
        config = write_config(tmp_path, database_url, f"{site.base_url}/feed/", ["log://"], rules)
        result = newswatch(config, "run", "--once")
        assert result.returncode == 0, result.stderr
    return database_url


def test_failing_source_is_reported_and_run_still_succeeds(
    tmp_path: Path, seed_site: SiteServer
) -> None:
    seed_site.set_route("/feed/", status=500, body="oops")
    database_url = f"sqlite:///{tmp_path / 'n.db'}"
    config = write_config(tmp_path, database_url, f"{seed_site.base_url}/feed/", ["log://"])
    result = newswatch(config, "run", "--once")
    assert result.returncode == 0, result.stderr
    assert "source 'The Daily Example' failed: HTTP 500" in result.stderr
    engine = make_engine(database_url)
    try:
        with make_sessionmaker(engine)() as session:
            source = session.scalars(select(Source)).one()
            assert source.last_error == "HTTP 500"
            assert source.error_count == 1
            assert session.scalars(select(Notification)).all() == []
    finally:
        engine.dispose()

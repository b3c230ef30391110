"""Secrets stay secret: at every log level, in the database and in every command's output.

Real processes and servers: `newswatch --log-level debug run --once` crawls a loopback
news site whose feed URL carries a `${VAR}` key and alerts a loopback webhook whose URL
carries a password and a path token; then every command that shows sources runs.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from servers import SEED_SITE, SiteServer, WebhookReceiver
from sqlalchemy import select
from test_end_to_end import write_config

from crawler.database import make_engine, make_sessionmaker
from crawler.models import Source

NEWSWATCH = str(Path(sys.executable).with_name("newswatch"))
FEED_KEY = "FEED_KEY"
TEMPLATE = "${FEED_KEY}"


def run(config: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [NEWSWATCH, "--config", str(config), *args], capture_output=True, text=True,
        timeout=180, check=False, env={**os.environ, **env},
    )


def stored_urls(database_url: str) -> dict[str, tuple[str, str | None]]:
    engine = make_engine(database_url)
    try:
        with make_sessionmaker(engine)() as session:
            return {s.name: (s.url, s.last_error) for s in session.scalars(select(Source))}
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def secret_setup(tmp_path_factory: pytest.TempPathFactory):
    """A crawled and alerted deployment whose feed key and webhook token are secrets."""
    tmp_path = tmp_path_factory.mktemp("secrets")
    key = "k" + secrets.token_hex(12)
    token = "t" + secrets.token_hex(12)
    password = "p" + secrets.token_hex(12)
    with SiteServer(SEED_SITE, fresh_dates=True) as site, WebhookReceiver() as hook:
        database_url = f"sqlite:///{tmp_path / 'n.db'}"
        hook_url = (f"json://hookuser:{password}@{hook.url.removeprefix('http://')}"
                    f"/hooks/{token}")
        config = write_config(tmp_path, database_url, f"{site.base_url}/feed/?key={TEMPLATE}",
                              [hook_url])
        # A feed that moved to a page that is gone: its error quotes where it was sent.
        site.set_route("/moved/feed.xml", 301,
                       headers={"Location": f"{site.base_url}/gone/feed.xml?key={key}"})
        text = config.read_text(encoding="utf-8")
        config.write_text(text + f"""
[[sources]]
name = "Broken"
url = "{site.base_url}/moved/feed.xml?key={TEMPLATE}"
""", encoding="utf-8")
        env = {FEED_KEY: key}
        crawl = run(config, env, "--log-level", "debug", "run", "--once")
        yield {
            "config": config, "env": env, "database_url": database_url, "crawl": crawl,
            "secrets": (key, token, password), "hook": hook, "site": site,
        }


def assert_no_secret(text: str, setup) -> None:
    for secret in setup["secrets"]:
        leaks = [line for line in text.splitlines() if secret in line]
        assert not leaks, leaks


def test_debug_logs_of_a_real_run_show_no_secret(secret_setup) -> None:
    crawl = secret_setup["crawl"]
    assert crawl.returncode == 0, crawl.stderr[-3000:]
    assert len(secret_setup["hook"].requests) == 1  # the alert went out
    assert "DEBUG" in crawl.stderr  # Apprise and urllib3 did log at debug level
    assert_no_secret(crawl.stdout + crawl.stderr, secret_setup)
    assert f"json://hookuser:****@127.0.0.1:{secret_setup['hook'].port}/" in crawl.stderr


def test_the_database_holds_the_url_template_not_the_secret(secret_setup) -> None:
    stored = stored_urls(secret_setup["database_url"])
    site = secret_setup["site"].base_url
    assert stored["The Daily Example"][0] == f"{site}/feed/?key={TEMPLATE}"
    assert stored["Broken"][0] == f"{site}/moved/feed.xml?key={TEMPLATE}"
    key = secret_setup["secrets"][0]
    assert f"/feed/?key={key}" in secret_setup["site"].paths()  # the crawl used the value
    # The crawl's error quotes the URL it was redirected to, with the key masked.
    assert stored["Broken"][1].endswith("/gone/feed.xml?key=****)")
    for url, error in stored.values():
        assert_no_secret(f"{url} {error}", secret_setup)


@pytest.mark.parametrize("command", [
    ("status",), ("status", "--json"), ("sources",), ("sources", "export"),
])
def test_commands_that_show_sources_show_the_template(secret_setup, command) -> None:
    result = run(secret_setup["config"], secret_setup["env"], *command)
    assert result.returncode == 0, result.stderr
    assert_no_secret(result.stdout + result.stderr, secret_setup)
    if command == ("status", "--json"):
        shown = {s["name"]: s for s in json.loads(result.stdout)["sources"]}
        assert shown["The Daily Example"]["url"].endswith(f"/feed/?key={TEMPLATE}")
        assert "/gone/feed.xml?key=****" in shown["Broken"]["last_error"]
    elif command == ("status",):  # the table shows errors, not URLs
        assert "/gone/feed.xml?key=****" in result.stdout
    else:
        assert f"/feed/?key={TEMPLATE}" in result.stdout
        assert f"/moved/feed.xml?key={TEMPLATE}" in result.stdout
    if command == ("sources",):
        assert "/gone/feed.xml?key=****" in result.stdout


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_the_log_filter_masks_messages_and_tracebacks_of_any_logger(log_format) -> None:
    import io
    import logging

    from scheduler.logs import SecretsFilter, make_formatter

    token, key = "tok" + secrets.token_hex(8), "key" + secrets.token_hex(8)
    masker = SecretsFilter()
    masker.add(values=[key], urls=[f"json://127.0.0.1:9/hooks/{token}"])
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(make_formatter(log_format))
    handler.addFilter(masker)
    logger = logging.getLogger("urllib3.connectionpool.test")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning('"POST /hooks/%s HTTP/1.1" 200 with key=%s', token, key)
        try:
            raise RuntimeError(f"http://127.0.0.1:9/hooks/{token}?key={key} refused")
        except RuntimeError:
            logger.exception("delivery failed")
    finally:
        logger.removeHandler(handler)
    output = stream.getvalue()
    assert token not in output and key not in output
    assert "127.0.0.1:9/****/****?key=**** refused" in output  # path hidden, as redact() does
    assert "RuntimeError" in output  # the traceback is kept, masked


def test_a_source_url_keeps_its_template_and_the_crawl_job_gets_the_value(tmp_path) -> None:
    from scheduler.config import ConfigError, load_config
    from scheduler.crawl_specs import source_spec

    path = tmp_path / "config.toml"
    path.write_text('[[sources]]\nname = "Feed"\nurl = "${BASE}/feed?key=${FEED_KEY}"\n',
                    encoding="utf-8")
    loaded = load_config(path, {"BASE": "https://example.org", FEED_KEY: "s3cretvalue"})
    [source] = loaded.config.sources
    assert source.url == "${BASE}/feed?key=${FEED_KEY}"
    spec = source_spec(loaded.config, source, tmp_path)
    assert spec.url == "https://example.org/feed?key=s3cretvalue"

    with pytest.raises(ConfigError) as refused:
        load_config(path, {"BASE": "ftp://example.org", FEED_KEY: "s3cretvalue"})
    [problem] = refused.value.problems
    assert "config.toml:3: sources[0].url: expected an http:// or https:// URL" in problem
    assert "s3cretvalue" not in problem

"""`newswatch rules ...` and `newswatch search` as a user runs them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from servers import SEED_SITE, SiteServer
from test_end_to_end import EXPECTED, newswatch, write_config

COMMENTED = """\
# My newswatch setup
[storage]
url = "sqlite:///n.db"   # next to this file

[[sources]]
name = "Example"
url = "http://127.0.0.1:9/feed/"

# where alerts go
[channels.desk]
urls = ["log://"]

[[rules]]
name = "Existing"
query = "Putin"
channels = ["desk"]
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(COMMENTED, encoding="utf-8")
    return path


def test_add_keeps_comments_and_validates(config: Path) -> None:
    result = newswatch(config, "rules", "add", "Visit", "Putin visit Pyongyang",
                       "--min-outlets", "2")
    assert result.returncode == 0, result.stderr
    # In the words of `sources add` and `channels add`, with the next step to take.
    assert result.stdout.startswith(f"Added rule 'Visit' to {config}.")
    assert "newswatch rules test 'Putin visit Pyongyang'" in result.stdout
    text = config.read_text()
    assert text.startswith(COMMENTED)
    assert 'name = "Visit"' in text and "min_outlets = 2" in text
    listing = newswatch(config, "rules", "list")
    header, _rule, *rows = listing.stdout.splitlines()
    assert header.split() == ["NAME", "QUERY", "CHANNELS", "ONLY"]
    visit = next(row for row in rows if row.startswith("Visit "))
    assert visit.split("  ")[0] == "Visit" and "Putin visit Pyongyang" in visit
    assert "desk" in visit and "at least 2 outlets" in visit


def test_add_refuses_an_invalid_query_with_its_position(config: Path) -> None:
    result = newswatch(config, "rules", "add", "Bad", "Putin (visit OR")
    assert result.returncode == 2
    assert "column" in result.stderr and "^" in result.stderr
    assert "Traceback" not in result.stderr
    assert config.read_text() == COMMENTED


def test_add_refuses_unknown_channel_and_duplicate_name(config: Path) -> None:
    unknown = newswatch(config, "rules", "add", "X", "Putin", "--channel", "nope")
    assert unknown.returncode == 2
    assert "unknown channel 'nope'" in unknown.stderr
    duplicate = newswatch(config, "rules", "add", "Existing", "Kim")
    assert duplicate.returncode == 2
    assert "exists already" in duplicate.stderr
    assert config.read_text() == COMMENTED


def test_remove(config: Path) -> None:
    removed = newswatch(config, "rules", "remove", "Existing")
    assert removed.returncode == 0
    assert removed.stdout == f"Removed rule 'Existing' from {config}.\n"
    assert "Existing" not in config.read_text()
    assert "# where alerts go" in config.read_text()
    missing = newswatch(config, "rules", "remove", "Existing")
    assert missing.returncode == 2 and "no rule named 'Existing'" in missing.stderr


def test_check_points_at_the_error(config: Path) -> None:
    config.write_text(COMMENTED + '\n[[rules]]\nname = "Broken"\nquery = "\\"Kim Jong"\n'
                      'channels = ["desk"]\n')
    result = newswatch(config, "rules", "check")
    assert result.returncode == 2
    assert "ok     Existing: Putin" in result.stdout
    assert 'error  Broken: column 10: expected a closing "' in result.stdout
    assert '\n       "Kim Jong\n' + " " * 16 + "^\n" in result.stdout
    assert "2 rules, 1 invalid" in result.stdout


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp_path = tmp_path_factory.mktemp("search")
    with SiteServer(SEED_SITE, fresh_dates=True) as site:
        config = write_config(tmp_path, f"sqlite:///{tmp_path / 's.db'}",
                              f"{site.base_url}/feed/", ["log://"])
        assert newswatch(config, "run", "--once").returncode == 0
    return config


@pytest.mark.parametrize("rule", EXPECTED["rules"], ids=lambda rule: rule["query"])
def test_search_finds_what_the_rules_match(crawled: Path, rule: dict) -> None:
    result = newswatch(crawled, "search", rule["query"], "--json")
    assert result.returncode == 0, result.stderr
    found = [json.loads(line) for line in result.stdout.splitlines()]
    paths = sorted("/" + item["url"].split("/", 3)[3] for item in found)
    assert paths == sorted(rule["matches"])


def test_rules_test_shows_the_story_with_highlights(crawled: Path) -> None:
    result = newswatch(crawled, "rules", "test", "Putin visit Pyongyang", "--since", "7d")
    assert result.returncode == 0, result.stderr
    # the headline, its matched words highlighted
    assert ("[Putin] Hails N. Korea’s Support For Ukraine War Ahead Of [Pyongyang] [Visit]"
            in result.stdout)
    assert "1 story would have alerted" in result.stdout
    # the id to follow up with: `stories show` gives that story
    story_id = re.search(r"^story (\d+) · ", result.stdout, re.MULTILINE)
    assert story_id, result.stdout
    shown = newswatch(crawled, "stories", "show", story_id[1])
    assert shown.returncode == 0 and "Hails N. Korea" in shown.stdout, shown.stderr
    assert "http://127.0.0.1" in result.stdout  # and the link
    assert "Harbour City" not in result.stdout


def test_search_uses_postgresql_full_text_too(
    tmp_path: Path, postgres_url: str, seed_site: SiteServer
) -> None:
    config = write_config(tmp_path, postgres_url, f"{seed_site.base_url}/feed/", ["log://"])
    crawl = newswatch(config, "run", "--once")
    assert "crawl: 2 new articles" in crawl.stderr, crawl.stderr
    for rule in EXPECTED["rules"]:
        result = newswatch(config, "search", rule["query"], "--json")
        assert result.returncode == 0, result.stderr
        paths = sorted("/" + json.loads(line)["url"].split("/", 3)[3]
                       for line in result.stdout.splitlines())
        assert paths == sorted(rule["matches"]), rule["query"]


def test_editing_keeps_the_file_mode_and_follows_a_symlink(tmp_path: Path, config: Path) -> None:
    config.chmod(0o644)
    link = tmp_path / "linked.toml"
    link.symlink_to(config)
    result = newswatch(link, "rules", "add", "Kim", '"Kim Jong Un"')
    assert result.returncode == 0, result.stderr
    assert link.is_symlink()
    assert 'name = "Kim"' in config.read_text()
    assert config.stat().st_mode & 0o777 == 0o644

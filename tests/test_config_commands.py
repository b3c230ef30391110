"""init, channels, pause/resume: the CLI edits config.toml, keeps what the user wrote, and
the daemon honours `paused`."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from scheduler.app import App
from scheduler.cli import main
from scheduler.config import load_config
from scheduler.config_file import update_entry

CONFIG = """\
# my newsroom's config
[storage]
url = "sqlite:///nw.db"

[[sources]]
name = "Wire"   # the agency feed
url = "https://wire.example/feed.xml"

[[sources]]
name = "Local"
url = "https://local.example/"

[channels.desk]
urls = ["log://"]

[[rules]]
name = "Putin"
query = "Putin Pyongyang"
channels = ["desk"]
"""


def cli(config: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--config", str(config), *args])


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def test_init_writes_a_commented_config_from_flags_and_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "fresh.toml"
    made = cli(path, "init", "--no-input", "--source", "https://www.example.org/world/rss",
               "--rule", '"North Korea" OR Pyongyang', "--channel", "json://127.0.0.1:9/hook")
    assert made.exit_code == 0, made.output
    text = path.read_text(encoding="utf-8")
    assert text.count("\n#") >= 8  # it explains itself
    config = load_config(path).config
    assert [(s.name, s.url) for s in config.sources] == [
        ("example.org", "https://www.example.org/world/rss")]
    assert [(r.query, r.channels) for r in config.rules] == [
        ('"North Korea" OR Pyongyang', ["me"])]
    assert config.channels["me"].urls == ["json://127.0.0.1:9/hook"]
    assert "newswatch channels test me" in made.output

    again = cli(path, "init", "--no-input")
    assert again.exit_code == 1 and "exists already" in again.output
    assert path.read_text(encoding="utf-8") == text


def test_init_with_a_rule_but_no_channel_sends_to_the_log(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    assert cli(path, "init", "--no-input", "--rule", "Putin").exit_code == 0
    config = load_config(path).config
    assert config.channels["me"].urls == ["log://"] and config.rules[0].channels == ["me"]


@pytest.mark.parametrize(("flags", "expected"), [
    (["--rule", "Putin (visit"], "--rule: invalid query"),
    (["--source", "ftp://x"], "--source: expected an http:// or https:// URL"),
    (["--channel", "mailto://"], "--channel: mailto://... is not a URL Apprise can use"),
    (["--database", "mysql://u@h/db"], "--database: mysql is not supported"),
])
def test_init_refuses_bad_answers_and_writes_nothing(
    tmp_path: Path, flags: list[str], expected: str
) -> None:
    path = tmp_path / "config.toml"
    result = cli(path, "init", "--no-input", *flags)
    assert result.exit_code == 2 and expected in result.output
    assert not path.exists()


def test_channels_add_list_and_remove_keep_the_file(config: Path) -> None:
    added = cli(config, "channels", "add", "hook", "json://127.0.0.1:9/alerts",
                "--format", "markdown")
    assert added.exit_code == 0, added.output
    text = config.read_text(encoding="utf-8")
    assert text.startswith(CONFIG.split("[channels.desk]")[0])  # comments kept
    assert load_config(config).config.channels["hook"].format == "markdown"

    listing = cli(config, "channels")
    assert listing.output.splitlines()[0].split() == ["NAME", "URLS", "FORMAT", "RULES"]
    assert "json://…" in listing.output and "127.0.0.1" not in listing.output
    assert "2 channels" in listing.output
    rows = [json.loads(line) for line in cli(config, "channels", "list", "--json").output
            .splitlines()]
    assert rows[0] == {"name": "desk", "urls": ["log://…"], "format": "text",
                       "rules": ["Putin"]}

    twice = cli(config, "channels", "add", "hook", "log://")
    assert twice.exit_code == 2 and "exists already" in twice.output
    used = cli(config, "channels", "remove", "desk")
    assert used.exit_code == 2 and "used by 1 rule (Putin)" in used.output
    removed = cli(config, "channels", "remove", "hook")
    assert removed.exit_code == 0, removed.output
    assert config.read_text(encoding="utf-8") == CONFIG


def test_pause_and_resume_edit_one_key_and_the_daemon_honours_it(config: Path) -> None:
    assert cli(config, "sources", "pause", "Wire").exit_code == 0
    assert cli(config, "rules", "pause", "Putin").exit_code == 0
    text = config.read_text(encoding="utf-8")
    assert 'name = "Wire"   # the agency feed' in text and text.count("paused = true") == 2
    loaded = load_config(config)
    assert [s.name for s in loaded.config.polled_sources] == ["Local"]
    app = App(loaded)
    try:
        app.open()
        assert [s.name for s in app.crawl_job().sources] == ["Local"]  # not polled
        assert app.rules() == []  # matches nothing
    finally:
        app.close()
    rules = cli(config, "rules", "list")
    assert "Putin (paused)" in rules.output and "1 rule, 1 paused" in rules.output
    sources = cli(config, "sources", "list", "--json")
    assert [json.loads(line)["paused"] for line in sources.output.splitlines()] == [True, False]

    assert cli(config, "sources", "resume", "Wire").exit_code == 0
    assert cli(config, "rules", "resume", "Putin").exit_code == 0
    assert config.read_text(encoding="utf-8") == CONFIG
    missing = cli(config, "sources", "pause", "Nope")
    assert missing.exit_code == 2 and "no source named 'Nope'" in missing.output


def test_update_entry_sets_and_removes_keys_and_validates(config: Path) -> None:
    loaded = update_entry(config, "sources", "Local", {"interval": "30m", "kind": "page"})
    assert loaded.config.sources[1].kind == "page"
    loaded = update_entry(config, "sources", "Local", {"interval": None, "kind": None})
    assert config.read_text(encoding="utf-8") == CONFIG
    with pytest.raises(KeyError):
        update_entry(config, "rules", "Nope", {"paused": True})
    from scheduler.config_basics import ConfigError

    with pytest.raises(ConfigError):
        update_entry(config, "sources", "Local", {"interval": 5})  # no unit: refused
    assert config.read_text(encoding="utf-8") == CONFIG


def test_init_on_a_terminal_asks_for_what_no_flag_gave(tmp_path: Path) -> None:
    """A newcomer typing `newswatch init` at a terminal answers three questions."""
    newswatch = str(Path(sys.executable).with_name("newswatch"))
    controller, terminal = pty.openpty()
    process = subprocess.Popen([newswatch, "init"], cwd=tmp_path, stdin=terminal,
                               stdout=terminal, stderr=terminal, close_fds=True)
    os.close(terminal)
    os.write(controller, b"https://www.example.org/world/rss\nPutin Pyongyang\n\n")
    shown = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # the terminal closed: the command ended
            break
        if not chunk:
            break
        shown += chunk
    assert process.wait(timeout=60) == 0, shown
    text = shown.decode()
    for question in ("First source", "First rule", "Where alerts go"):
        assert question in text
    config = load_config(tmp_path / "config.toml").config
    assert [s.url for s in config.sources] == ["https://www.example.org/world/rss"]
    assert [r.query for r in config.rules] == ["Putin Pyongyang"]
    assert config.channels["me"].urls == ["log://"]  # the empty answer: the daemon's log


def test_edits_at_the_same_moment_all_land(config: Path) -> None:
    """The web app and the CLI may edit config.toml at once: no edit overwrites another."""
    from concurrent.futures import ThreadPoolExecutor

    from scheduler.config_file import append_entry

    names = [f"Outlet {i}" for i in range(8)]
    with ThreadPoolExecutor(len(names)) as pool:
        list(pool.map(lambda name: append_entry(config, "sources", {
            "name": name, "url": f"https://{name.replace(' ', '')}.example/feed"}), names))
    stored = [source.name for source in load_config(config).config.sources]
    assert sorted(stored) == sorted(["Wire", "Local", *names])
    assert "# the agency feed" in config.read_text(encoding="utf-8")


def test_sources_add_edits_the_config_without_creating_a_database(config: Path) -> None:
    added = cli(config, "sources", "add", "http://127.0.0.1:9/feed.xml", "--name", "New",
                "--force")  # nothing listens there: added anyway
    assert added.exit_code == 0, added.output
    assert "New" in [s.name for s in load_config(config).config.sources]
    assert not (config.parent / "nw.db").exists()


def test_crawl_with_every_source_paused_says_so(config: Path) -> None:
    for name in ("Wire", "Local"):
        assert cli(config, "sources", "pause", name).exit_code == 0
    result = cli(config, "crawl")
    assert result.exit_code != 0
    assert "every source is paused" in result.output

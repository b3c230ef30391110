"""Config validation: clear one-line errors that name the file, line and key."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from scheduler.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[1]
NEWSWATCH = str(Path(sys.executable).with_name("newswatch"))

VALID = """\
[storage]
url = "sqlite:///data/newswatch.db"

[defaults]
interval = "5m"

[[sources]]
name = "One"
url = "http://127.0.0.1:9/feed"

[[sources]]
name = "Two"
url = "http://127.0.0.1:9/other"
interval = "1h30m"

[channels.desk]
urls = ["mailtos://me:${SMTP_PASSWORD}@smtp.example.org?to=desk@example.org"]

[[rules]]
name = "Putin in Pyongyang"
query = "Putin visit Pyongyang"
channels = ["desk"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), {"SMTP_PASSWORD": "s3cret", **(environ or {})})
    return caught.value.problems


def test_valid_config_loads_with_env_and_relative_sqlite_path(tmp_path: Path) -> None:
    loaded = load_config(write(tmp_path, VALID), {"SMTP_PASSWORD": "s3cret"})
    assert loaded.config.channels["desk"].urls[0].startswith("mailtos://me:s3cret@")
    assert loaded.database_url == f"sqlite:///{tmp_path / 'data' / 'newswatch.db'}"
    one, two = loaded.config.sources
    assert loaded.config.source_interval(one) == timedelta(minutes=5)
    assert loaded.config.source_interval(two) == timedelta(hours=1, minutes=30)


def test_database_url_from_environment_overrides_config(tmp_path: Path) -> None:
    loaded = load_config(
        write(tmp_path, VALID),
        {"SMTP_PASSWORD": "x", "NEWSWATCH_DATABASE_URL": "postgresql+psycopg://u@h/db"},
    )
    assert loaded.database_url == "postgresql+psycopg://u@h/db"


def test_missing_environment_variable_names_key_and_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, VALID), {})
    assert caught.value.problems == [
        f"{tmp_path / 'config.toml'}:17: channels.desk.urls[0]: "
        "environment variable ${SMTP_PASSWORD} is not set"
    ]


def test_typo_in_key_suggests_the_right_one(tmp_path: Path) -> None:
    text = VALID.replace('interval = "1h30m"', 'intervall = "1h30m"')
    assert problems(tmp_path, text) == [
        f"{tmp_path / 'config.toml'}:14: sources[1].intervall: unknown key 'intervall'; "
        "did you mean 'interval'?"
    ]


def test_bad_interval_says_what_was_expected(tmp_path: Path) -> None:
    text = VALID.replace('interval = "5m"', 'interval = "5 minutes"')
    [problem] = problems(tmp_path, text)
    location = f"{tmp_path / 'config.toml'}:5: defaults.interval"
    assert problem.startswith(f"{location}: expected a duration")
    assert "'5 minutes'" in problem


def test_unknown_channel_in_rule(tmp_path: Path) -> None:
    text = VALID.replace('channels = ["desk"]', 'channels = ["dsk"]')
    assert problems(tmp_path, text) == [
        f"{tmp_path / 'config.toml'}:22: rules[0].channels[0]: unknown channel 'dsk' "
        "(channels: desk)"
    ]


def test_invalid_query_is_refused(tmp_path: Path) -> None:
    text = VALID.replace('query = "Putin visit Pyongyang"', 'query = "\\"Putin visit"')
    [problem] = problems(tmp_path, text)
    assert ":21: rules[0].query: invalid query" in problem


def test_duplicate_source_names(tmp_path: Path) -> None:
    text = VALID.replace('name = "Two"', 'name = "One"')
    [problem] = problems(tmp_path, text)
    assert ":12: sources[1].name: duplicate name 'One'" in problem


def test_missing_required_key(tmp_path: Path) -> None:
    text = VALID.replace('url = "http://127.0.0.1:9/other"\n', "")
    [problem] = problems(tmp_path, text)
    assert problem.endswith("sources[1].url: required key is missing")


def test_toml_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    [problem] = problems(tmp_path, VALID.replace('name = "One"', "name = One"))
    assert "not valid TOML" in problem
    assert "line 8" in problem


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (('interval = "1h30m"', 'intervall = "1h30m"'), "sources[1].intervall"),
        (('interval = "5m"', 'interval = "soon"'), "defaults.interval"),
        (('channels = ["desk"]', 'channels = ["nowhere"]'), "rules[0].channels[0]"),
    ],
)
def test_cli_refuses_bad_config_with_one_line_and_no_traceback(
    tmp_path: Path, change: tuple[str, str], key: str
) -> None:
    config = write(tmp_path, VALID.replace(*change))
    result = subprocess.run(
        [NEWSWATCH, "--config", str(config), "run", "--once"],
        capture_output=True, text=True, timeout=60, env={**os.environ, "SMTP_PASSWORD": "x"},
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert key in lines[0]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "data").exists(), "nothing may be created from a bad config"


def test_shipped_config_passes_validation() -> None:
    result = subprocess.run(
        [NEWSWATCH, "--config", str(ROOT / "config.toml"), "config", "check"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "ok (" in result.stdout


def test_missing_config_file_is_a_clear_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [NEWSWATCH, "--config", str(tmp_path / "nope.toml"), "run", "--once"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 2
    assert "cannot read the config file" in result.stderr
    assert "Traceback" not in result.stderr


def test_errors_never_show_values_taken_from_the_environment(tmp_path: Path) -> None:
    text = VALID.replace('query = "Putin visit Pyongyang"', 'query = "${QUERY}"').replace(
        '[[sources]]\nname = "One"', '[[sources]]\nname = "One"\nproxy = "${PROXY}"', 1)
    found = problems(tmp_path, text, {"QUERY": "(hunter2-secret", "PROXY": "bad:hunter3secret"})
    assert len(found) == 2
    assert all("hunter" not in line for line in found)
    assert any("sources[0].proxy" in line and "****" in line for line in found)


def test_config_check_refuses_a_url_apprise_cannot_use(tmp_path: Path) -> None:
    config = write(tmp_path, VALID.replace(
        "mailtos://me:${SMTP_PASSWORD}@smtp.example.org", "mailtoo://me:${SMTP_PASSWORD}@smtp"))
    result = subprocess.run(
        [NEWSWATCH, "--config", str(config), "config", "check"],
        capture_output=True, text=True, timeout=60, env={**os.environ, "SMTP_PASSWORD": "pw99"},
        check=False,
    )
    assert result.returncode == 2
    assert ":17: channels.desk.urls[0]: not a URL Apprise can use" in result.stderr
    assert "pw99" not in result.stderr


def test_a_heartbeat_slower_than_status_allows_is_refused(tmp_path: Path) -> None:
    """`status` calls a daemon silent for a minute stopped: a heartbeat every 20 s would
    show a live daemon as stopped now and then."""
    [problem] = problems(tmp_path, VALID + '\n[daemon]\nheartbeat_interval = "20s"\n')
    assert "daemon.heartbeat_interval: expected at most 15s" in problem
    loaded = load_config(write(tmp_path, VALID + '\n[daemon]\nheartbeat_interval = "1s"\n'
                                             'standby_retry = "2s"\n'),
                         {"SMTP_PASSWORD": "s3cret"})
    assert loaded.config.daemon.heartbeat_interval == timedelta(seconds=1)
    assert loaded.config.daemon.standby_retry == timedelta(seconds=2)

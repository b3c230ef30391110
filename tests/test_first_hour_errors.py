"""The walls of a first hour: each mistake gets one line that names the problem and says
the fix in words (issue 15). Truncated OPML and a homepage's feed added twice are in
test_crawl_sources_cli.py; a refused connection in test_quiet_start.py."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from servers import SEED_SITE, free_port

NEWSWATCH = str(Path(sys.executable).with_name("newswatch"))


def newswatch(cwd: Path, *args: str, env: dict[str, str] | None = None
              ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([NEWSWATCH, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, check=False, env={**os.environ, **(env or {})})


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


@pytest.mark.parametrize(("url", "expected"), [
    ("mysql://user@localhost/news",
     "storage.url: mysql is not supported; use sqlite:///FILE or postgresql+psycopg://"),
    ("postgres://user@localhost/news",
     "storage.url: postgres:// is not a driver newswatch has; write postgresql+psycopg://"),
    ("postgresql+psycopg2://user@localhost/news",
     "storage.url: postgresql+psycopg2:// is not a driver newswatch has"),
])
def test_config_check_refuses_databases_newswatch_cannot_use(
    tmp_path: Path, url: str, expected: str
) -> None:
    (tmp_path / "config.toml").write_text(f'[storage]\nurl = "{url}"\n', encoding="utf-8")
    result = newswatch(tmp_path, "config", "check")
    assert result.returncode == 2
    assert expected in one_line(result.stderr)


def test_a_database_url_from_the_environment_is_checked_too(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("", encoding="utf-8")
    result = newswatch(tmp_path, "status", env={"NEWSWATCH_DATABASE_URL": "mysql://u@h/db"})
    assert result.returncode == 2
    assert "$NEWSWATCH_DATABASE_URL: mysql is not supported" in one_line(result.stderr)


@pytest.mark.parametrize(("setting", "expected"), [
    ("[crawler]\nmax_article_age = 3",
     'crawler.max_article_age: a duration needs a unit: write "3s", "3m", "3h" or "3d"'),
    ('[defaults]\ninterval = "10"', 'defaults.interval: a duration needs a unit: write "10s"'),
])
def test_durations_need_a_unit(tmp_path: Path, setting: str, expected: str) -> None:
    (tmp_path / "config.toml").write_text(setting + "\n", encoding="utf-8")
    result = newswatch(tmp_path, "config", "check")
    assert result.returncode == 2
    assert expected in one_line(result.stderr)


def test_a_rule_without_channels_says_how_to_add_one_and_names_them(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("", encoding="utf-8")
    none = newswatch(tmp_path, "rules", "add", "X", "Putin")
    assert none.returncode == 2
    assert "`newswatch channels add NAME APPRISE_URL`" in one_line(none.stderr)
    config.write_text('[channels.desk]\nurls = ["log://"]\n[channels.pager]\nurls = ["log://"]\n',
                      encoding="utf-8")
    two = newswatch(tmp_path, "rules", "add", "X", "Putin")
    assert two.returncode == 2
    assert "say which channel with --channel (one of: desk, pager)" in one_line(two.stderr)
    assert "[[rules]]" not in config.read_text(encoding="utf-8")


def newswatch_code_loaded(child: subprocess.Popen[str]) -> bool:
    """Whether `child` is past Python's own start-up and importing newswatch's modules:
    a compiled module from the virtualenv's site-packages is mapped. (A Ctrl-C before
    that interrupts the interpreter starting, before any program can handle it.)"""
    try:
        maps = Path(f"/proc/{child.pid}/maps").read_text(encoding="utf-8")
    except OSError:
        return False
    return "/site-packages/" in maps


def ctrl_c_as_in_a_terminal() -> None:
    """For a child that a test interrupts: Ctrl-C at its default, as a shell in a terminal
    starts a program (a test run started in the background inherits it ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def interrupt_once(child: subprocess.Popen[str],
                   reached: Callable[[subprocess.Popen[str]], bool]) -> None:
    """Ctrl-C for `child` as soon as it has `reached` a stage (or has exited)."""
    deadline = time.monotonic() + 60
    while not reached(child) and child.poll() is None:
        assert time.monotonic() < deadline, "the child never reached the stage"
        time.sleep(0.01)
    child.send_signal(signal.SIGINT)


def test_ctrl_c_early_in_run_exits_cleanly(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        '[[sources]]\nname = "Local"\nurl = "http://127.0.0.1:9/feed.xml"\n', encoding="utf-8")
    database = tmp_path / "newswatch.db"
    # While importing and loading the config, then while migrating: reached by what the
    # child does, not after a fixed delay (under load, 0.3 s can still be the interpreter
    # starting up, where a Ctrl-C ends any Python program with a traceback).
    for reached in (newswatch_code_loaded, lambda _child: database.exists()):
        database.unlink(missing_ok=True)
        child = subprocess.Popen([NEWSWATCH, "run"], cwd=tmp_path, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True,
                                 preexec_fn=ctrl_c_as_in_a_terminal)
        interrupt_once(child, reached)
        _out, err = child.communicate(timeout=60)
        assert child.returncode == 0, err
        assert "Aborted!" not in err and "Traceback" not in err, err


def test_ctrl_c_during_run_once_says_nothing_is_lost(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never answers
        port = silent.getsockname()[1]
        (tmp_path / "config.toml").write_text(
            f'[[sources]]\nname = "Slow"\nurl = "http://127.0.0.1:{port}/feed.xml"\n'
            '[crawler]\ndownload_timeout = "60s"\n', encoding="utf-8")
        child = subprocess.Popen([NEWSWATCH, "run", "--once"], cwd=tmp_path,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 preexec_fn=ctrl_c_as_in_a_terminal)
        time.sleep(4)  # waiting for robots.txt by now
        assert child.poll() is None
        child.send_signal(signal.SIGINT)
        _out, err = child.communicate(timeout=60)
    assert "Aborted!" not in err and "Traceback" not in err, err
    assert child.returncode == 130, err
    assert "interrupted; what was stored is kept" in err


def test_extract_on_a_homepage_says_it_is_not_an_article(tmp_path: Path) -> None:
    result = newswatch(tmp_path, "extract", str(SEED_SITE / "index.html"),
                       "--url", "https://daily.example/")
    assert "this page is mostly links (a homepage or section page)" in one_line(result.stderr)
    assert '"body": ""' in result.stdout
    article = next((SEED_SITE / "2024").rglob("index.html"))
    fine = newswatch(tmp_path, "extract", str(article), "--url", "https://daily.example/a/")
    assert fine.returncode == 0 and fine.stderr == "" and '"error": null' in fine.stdout


def test_a_bad_channel_url_is_reported_once_with_apprises_reason(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[channels.desk]\nurls = ["mailto://"]\n',
                                          encoding="utf-8")
    result = newswatch(tmp_path, "config", "check")
    assert result.returncode == 2
    line = one_line(result.stderr)  # Apprise's own two error lines are not printed
    assert "channels.desk.urls[0]: not a URL Apprise can use" in line
    assert "Invalid ~From~ email specified" in line
    added = newswatch(tmp_path, "channels", "add", "mail", "mailto://")
    assert "Invalid ~From~ email specified" in one_line(added.stderr)


def test_a_mail_channel_that_fails_keeps_the_real_reason(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    (tmp_path / "config.toml").write_text(
        f'[channels.mail]\nurls = ["mailto://user:s3cret@127.0.0.1:{port}'
        '?to=me@example.com&from=nw@example.com"]\n', encoding="utf-8")
    result = newswatch(tmp_path, "channels", "test", "mail")
    assert result.returncode == 1
    assert "Connection refused" in result.stdout, result.stdout
    assert "s3cret" not in result.stdout + result.stderr
    assert result.stderr == ""

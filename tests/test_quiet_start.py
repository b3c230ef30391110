"""Quiet by default, fast to start, --config anywhere: what a newcomer meets first."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from servers import SEED_SITE, SiteServer

NEWSWATCH = str(Path(sys.executable).with_name("newswatch"))
# Loggers that are not newswatch's own, as they appear in a text log line.
THIRD_PARTY = (" scrapy", " twisted", " alembic", " apprise", "crawl.scrapy", "crawl.twisted",
               " urllib3", " py.warnings")


def newswatch(cwd: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([NEWSWATCH, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, check=False)


def refused_config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        '[storage]\nurl = "sqlite:///nw.db"\n\n'
        '[crawler]\ndownload_delay = "0s"\n\n'
        '[[sources]]\nname = "Refused"\nurl = "http://127.0.0.1:9/feed.xml"\n\n'
        '[channels.desk]\nurls = ["log://"]\n\n'
        '[[rules]]\nname = "Putin"\nquery = "putin"\nchannels = ["desk"]\n',
        encoding="utf-8",
    )
    return path


def assert_quiet(stderr: str) -> None:
    assert "Traceback" not in stderr, stderr
    for name in THIRD_PARTY:
        assert name not in stderr, f"{name.strip()} logged at the default level:\n{stderr}"


def test_a_refused_connection_is_one_line_once_without_traceback(tmp_path: Path) -> None:
    refused_config(tmp_path)
    result = newswatch(tmp_path, "run", "--once")
    assert result.returncode == 0, result.stderr
    assert_quiet(result.stderr)
    assert "Context impl" not in result.stderr
    assert result.stderr.count("connection refused") == 1, result.stderr
    assert "source 'Refused' failed: connection refused" in result.stderr


def test_debug_level_still_shows_the_libraries_lines(tmp_path: Path) -> None:
    refused_config(tmp_path)
    result = newswatch(tmp_path, "--log-level", "debug", "run", "--once")
    assert result.returncode == 0, result.stderr
    assert "alembic" in result.stderr and "crawl.scrapy" in result.stderr


# What a command may not import to start fast (bench/startup.py measures the times).
SENDING = ("apprise",)
CRAWLING = ("scrapy", "twisted", "numpy", "trafilatura", "courlan")
MIGRATING = ("alembic",)
SERVING = ("fastapi", "uvicorn", "jinja2")
DATABASE = ("sqlalchemy",)
# Reading is SQLAlchemy Core on the tables (crawler/tables.py): the ORM and the mapped
# classes are a quarter of a second more.
ORM = ("sqlalchemy.orm", "crawler.models", "alerts.models", "scheduler.models")
# On SQLite, the PostgreSQL dialect (and the asyncio drivers it loads) is only cost.
OTHER_DATABASES = ("sqlalchemy.dialects.postgresql",)
NOT_READING = SENDING + CRAWLING + MIGRATING + SERVING + OTHER_DATABASES
IMPORT_PROBE = (
    "import sys\nfrom scheduler.entry import main\n"
    "sys.argv[0] = 'newswatch'\n"
    "try:\n    main()\nexcept SystemExit as exit:\n    code = exit.code\n"
    "print('EXIT', code, 'IMPORTED', ' '.join(sorted(sys.modules)))\n"
)


@pytest.fixture(scope="module")
def migrated_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder whose database holds the seed site's articles, stories and alerts."""
    folder = tmp_path_factory.mktemp("startup")
    config = refused_config(folder)
    with SiteServer(SEED_SITE, fresh_dates=True) as site:
        config.write_text(config.read_text().replace("http://127.0.0.1:9/feed.xml",
                                                     f"{site.base_url}/feed/"))
        assert newswatch(folder, "run", "--once").returncode == 0
    return folder


@pytest.mark.parametrize(("args", "forbidden"), [
    (["--help"], NOT_READING + DATABASE + ("pydantic",)),
    (["rules", "--help"], NOT_READING + DATABASE + ("pydantic",)),
    (["rules", "list"], NOT_READING + DATABASE),
    (["channels", "list"], NOT_READING + DATABASE),
    (["config", "check"], CRAWLING + MIGRATING + SERVING + DATABASE),
    (["status"], NOT_READING + ORM),
    (["sources", "list"], NOT_READING + ORM),
    (["stories"], NOT_READING + ORM),
    (["stories", "show", "1"], NOT_READING + ORM),
    (["alerts", "list"], NOT_READING + ORM),
    (["articles", "show", "1"], NOT_READING + ORM),
    # One query needs no word frequencies to pick what it looks for first.
    (["search", "putin"], NOT_READING + ORM + ("wordfreq",)),
    (["rules", "test", "putin"], NOT_READING + ORM + ("wordfreq",)),
])
def test_read_only_commands_import_no_heavy_library(
    migrated_folder: Path, args: list[str], forbidden: tuple[str, ...]
) -> None:
    """`--help` and the read-only commands start without the libraries of sending,
    crawling, migrating and serving; those that never read the database without
    SQLAlchemy (`config check` validates channel URLs with Apprise, by design); those
    that read it without the ORM."""
    result = subprocess.run([sys.executable, "-c", IMPORT_PROBE, *args], cwd=migrated_folder,
                            capture_output=True, text=True, timeout=60, check=False)
    line = next(line for line in result.stdout.splitlines() if line.startswith("EXIT "))
    assert line.split()[1] in ("0", "None"), (args, result.stdout, result.stderr)
    imported = set(line.split(" IMPORTED ", 1)[1].split())
    assert not imported & set(forbidden), (args, sorted(imported & set(forbidden)))


@pytest.mark.parametrize("args", [
    ["status", "--config", "{config}"],
    ["--config", "{config}", "status"],
    ["rules", "list", "--config", "{config}"],
    ["rules", "--config", "{config}", "list"],
    ["stories", "--config", "{config}"],
    ["config", "check", "-c", "{config}"],
])
def test_config_is_accepted_before_or_after_the_command(tmp_path: Path, args: list[str]) -> None:
    (tmp_path / "elsewhere").mkdir()
    config = refused_config(tmp_path / "elsewhere")
    assert newswatch(tmp_path / "elsewhere", "db", "upgrade").returncode == 0
    cwd = tmp_path / "empty"  # no config.toml here: only --config finds it
    cwd.mkdir()
    result = newswatch(cwd, *(arg.format(config=config) for arg in args))
    assert result.returncode == 0, result.stderr
    assert "cannot read the config file" not in result.stderr


def test_status_json_counts_a_source_unhealthy_only_past_the_threshold(tmp_path: Path) -> None:
    refused_config(tmp_path)
    assert newswatch(tmp_path, "run", "--once").returncode == 0
    report = json.loads(newswatch(tmp_path, "status", "--json").stdout)
    assert report["unhealthy"] == []  # one failure; unhealthy_after_failures is 5
    assert report["unhealthy_after_failures"] == 5
    (source,) = report["sources"]
    assert source["error_count"] == 1 and not source["unhealthy"]
    assert source["polling"].startswith("backing off after 1 failure in a row")


def test_a_paused_source_is_neither_due_nor_failing_in_status(tmp_path: Path) -> None:
    refused_config(tmp_path)
    assert newswatch(tmp_path, "run", "--once").returncode == 0  # it fails once
    assert newswatch(tmp_path, "sources", "pause", "Refused").returncode == 0
    report = json.loads(newswatch(tmp_path, "status", "--json").stdout)
    (source,) = report["sources"]
    assert source["paused"] and source["polling"] == ""
    shown = newswatch(tmp_path, "status").stdout
    assert "Refused is failing" not in shown
    assert re.search(r"^\s+Refused\s.*\spaused$", shown, re.MULTILINE), shown

"""Names the database stores are refused in the config when longer than their columns:
on PostgreSQL a longer one would fail every matching cycle."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from test_config import NEWSWATCH, VALID, problems, write

from scheduler.config import load_config

LONG = "x" * 201
LIMIT = "x" * 200


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ([('name = "Two"', f'name = "{LONG}"')], ":12: sources[1].name"),
        ([('name = "Putin in Pyongyang"', f'name = "{LONG}"')], ":20: rules[0].name"),
        ([("[channels.desk]", f"[channels.{LONG}]"),
          ('channels = ["desk"]', f'channels = ["{LONG}"]')], f":16: channels.{LONG}"),
    ],
)
def test_a_name_longer_than_its_column_is_refused_where_it_is_written(
    tmp_path: Path, changes: list[tuple[str, str]], where: str
) -> None:
    text = VALID
    for change in changes:
        text = text.replace(*change)
    assert problems(tmp_path, text) == [
        f"{tmp_path / 'config.toml'}{where}: expected a name of at most 200 characters, got 201"
    ]


def test_names_as_long_as_their_columns_are_accepted(tmp_path: Path) -> None:
    text = (VALID.replace('name = "Two"', f'name = "{LIMIT}"')
            .replace('name = "Putin in Pyongyang"', f'name = "{LIMIT}"')
            .replace("[channels.desk]", f"[channels.{LIMIT}]")
            .replace('channels = ["desk"]', f'channels = ["{LIMIT}"]'))
    loaded = load_config(write(tmp_path, text), {"SMTP_PASSWORD": "x"})
    assert loaded.config.rules[0].name == LIMIT


def test_config_check_exits_2_on_a_rule_name_too_long(tmp_path: Path) -> None:
    config = write(tmp_path, VALID.replace('name = "Putin in Pyongyang"', f'name = "{LONG}"'))
    result = subprocess.run(
        [NEWSWATCH, "--config", str(config), "config", "check"],
        capture_output=True, text=True, timeout=60, env={**os.environ, "SMTP_PASSWORD": "x"},
        check=False,
    )
    assert result.returncode == 2
    assert "rules[0].name: expected a name of at most 200 characters, got 201" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_config_name_limits_are_the_columns_lengths() -> None:
    """The limits are written out in scheduler/config.py (loading a config must not import
    SQLAlchemy): each must be the shortest column the name is stored in."""
    from alerts.models import AlertMessage, Notification, RuleMatch
    from crawler.models import Source
    from scheduler import config

    def shortest(*columns: object) -> int:
        return min(column.type.length for column in columns)  # type: ignore[attr-defined]

    rule_columns = (RuleMatch.__table__.c.rule, Notification.__table__.c.rule)
    channel_columns = (Notification.__table__.c.channel, AlertMessage.__table__.c.channel)
    assert shortest(Source.__table__.c.name) == config.SOURCE_NAME_LENGTH
    assert shortest(*rule_columns) == config.RULE_NAME_LENGTH
    assert shortest(*channel_columns) == config.CHANNEL_NAME_LENGTH

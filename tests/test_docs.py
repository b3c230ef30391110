"""Every command and every setting is documented: in --help and in the README."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from pydantic import BaseModel

from scheduler.cli import main
from scheduler.config import Config, model_in

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def commands(
    group: click.Group = main, prefix: str = "newswatch"
) -> Iterator[tuple[str, click.Command]]:
    for name in group.list_commands(click.Context(group)):
        command = group.get_command(click.Context(group), name)
        assert command is not None, name
        path = f"{prefix} {name}"
        yield path, command
        if isinstance(command, click.Group):
            yield from commands(command, path)


def settings(model: type[BaseModel] = Config, prefix: str = "") -> Iterator[str]:
    for name, field in model.model_fields.items():
        annotation = field.annotation
        nested = model_in(annotation)
        if nested is not None:
            # Sections are documented through their keys; lists and tables of them too.
            yield from settings(nested, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}"


@pytest.mark.parametrize(("path", "command"), list(commands()), ids=lambda v: str(v))
def test_command_has_help_and_is_in_the_readme(path: str, command: click.Command) -> None:
    result = CliRunner().invoke(main, [*path.split()[1:], "--help"])
    assert result.exit_code == 0, result.output
    assert command.help, f"{path} has no help text"
    if not isinstance(command, click.Group):
        assert "Example" in command.help, f"{path} --help has no example"
    assert f"`{path}" in README, f"{path} is not in the README"


@pytest.mark.parametrize("key", list(settings()))
def test_setting_is_in_the_readme(key: str) -> None:
    leaf = key.rsplit(".", 1)[-1]
    documented = f"`{key}`" in README or f".{leaf}`" in README or f"`{leaf}`" in README
    assert documented, f"setting {key} is not documented in the README"

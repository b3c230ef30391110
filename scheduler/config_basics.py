"""What a command knows of the config before loading it: where the file is, and the error
loading it raises. Kept apart from scheduler.config (pydantic models, query parsing) so
that `newswatch --help` starts without them."""

from __future__ import annotations

import os
from pathlib import Path

CONFIG_ENV = "NEWSWATCH_CONFIG"
DEFAULT_CONFIG = "config.toml"


class ConfigError(Exception):
    """The config cannot be used; `problems` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The config file to use: the --config flag, else $NEWSWATCH_CONFIG, else ./config.toml."""
    return Path(explicit or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)

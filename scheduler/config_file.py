"""Editing config.toml from the CLI without losing the user's comments and layout.

tomlkit keeps comments, blank lines and key order; the edited text is validated in full
before it replaces the file, so a command can never leave a broken config behind. One
edit at a time (a lock file beside the config), so two edits at once, from the CLI and the
web app say, both land instead of one overwriting the other.
"""

from __future__ import annotations

import contextlib
import functools
import os
import stat
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

import tomlkit
from filelock import FileLock
from tomlkit.items import AoT, Table

from scheduler.config import ConfigError, LoadedConfig, load_config

P = ParamSpec("P")
R = TypeVar("R")


def _one_edit_at_a_time(edit: Callable[Concatenate[Path, P], R]
                        ) -> Callable[Concatenate[Path, P], R]:
    """Hold the config's lock file from reading the file to replacing it."""
    @functools.wraps(edit)
    def locked(path: Path, *args: P.args, **kwargs: P.kwargs) -> R:
        target = path.resolve()
        with FileLock(target.with_name(f".{target.name}.lock")):
            return edit(path, *args, **kwargs)
    return locked


@_one_edit_at_a_time
def append_entry(path: Path, array: str, entry: Mapping[str, Any]) -> LoadedConfig:
    """Add a `[[array]]` table (e.g. a rule or a source) at the end of its array."""
    document = tomlkit.parse(path.read_text(encoding="utf-8"))
    table = tomlkit.table()
    for key, value in entry.items():
        if value is not None:
            table.add(key, value)
    if array in document:
        document[array].append(table)
    else:
        document.add(tomlkit.nl())
        document.add(array, tomlkit.aot())
        document[array].append(table)
    return _replace(path, document)


@_one_edit_at_a_time
def remove_entry(path: Path, array: str, name: str) -> LoadedConfig:
    """Remove the `[[array]]` table whose `name` is `name`; KeyError if there is none."""
    document = tomlkit.parse(path.read_text(encoding="utf-8"))
    entries = document.get(array)
    if not isinstance(entries, AoT):
        raise KeyError(name)
    for index, table in enumerate(entries):
        if table.get("name") == name:
            del entries[index]
            break
    else:
        raise KeyError(name)
    return _replace(path, document)


@_one_edit_at_a_time
def update_entry(path: Path, array: str, name: str, changes: Mapping[str, Any], *,
                 check: Callable[[LoadedConfig], None] | None = None) -> LoadedConfig:
    """Change keys of the entry called `name`: a `[[array]]` table whose `name` key is
    `name`, or the `[array.name]` table (channels). A None value removes the key; other
    keys, comments and layout stay. KeyError if there is no such entry. `check` is a
    further validation of the new config (e.g. `check_channel_urls`)."""
    document = tomlkit.parse(path.read_text(encoding="utf-8"))
    _apply(_find_entry(document, array, name), changes)
    return _replace(path, document, check)


@_one_edit_at_a_time
def set_table(path: Path, section: str, name: str, entry: Mapping[str, Any], *,
              check: Callable[[LoadedConfig], None] | None = None) -> LoadedConfig:
    """Add the table `[section.name]` (e.g. a channel), or set its keys if it exists."""
    document = tomlkit.parse(path.read_text(encoding="utf-8"))
    parent = document.get(section)
    if parent is None:
        parent = tomlkit.table(is_super_table=True)
        document.add(tomlkit.nl())
        document.add(section, parent)
    if name in parent:
        _apply(parent[name], entry)
    else:
        table = tomlkit.table()
        _apply(table, entry)
        parent.add(name, table)
    return _replace(path, document, check)


@_one_edit_at_a_time
def remove_table(path: Path, section: str, name: str) -> LoadedConfig:
    """Remove the table `[section.name]`; KeyError if there is none."""
    document = tomlkit.parse(path.read_text(encoding="utf-8"))
    parent = document.get(section)
    if not isinstance(parent, Table) or name not in parent:
        raise KeyError(name)
    del parent[name]
    return _replace(path, document)


def create_config(path: Path, text: str) -> LoadedConfig:
    """Write a new config file from `text`, validated first; FileExistsError if `path`
    exists (nothing is ever overwritten)."""
    load_text = tomlkit.parse(text)  # a syntax error here is a bug in the caller
    with open(path, "x", encoding="utf-8") as handle:
        handle.write(tomlkit.dumps(load_text))
    try:
        return load_config(path)
    except ConfigError:
        path.unlink()
        raise


def toml_value(value: Any) -> str:
    """`value` written as TOML (a string quoted and escaped), for a config template."""
    return tomlkit.item(value).as_string()


def _apply(table: Any, changes: Mapping[str, Any]) -> None:
    """Set each key of `changes` in `table`; a None value removes the key."""
    for key, value in changes.items():
        if value is None:
            if key in table:
                del table[key]
        else:
            table[key] = value


def _find_entry(document: tomlkit.TOMLDocument, array: str, name: str) -> Any:
    entries = document.get(array)
    if isinstance(entries, AoT):
        for table in entries:
            if table.get("name") == name:
                return table
    elif isinstance(entries, dict) and isinstance(entries.get(name), dict):
        return entries[name]
    raise KeyError(name)


def _copy_ownership(original: Path, replacement: str) -> None:
    status = original.stat()
    os.chmod(replacement, stat.S_IMODE(status.st_mode))
    with contextlib.suppress(PermissionError):  # only root may give a file away
        os.chown(replacement, status.st_uid, status.st_gid)


def _replace(path: Path, document: tomlkit.TOMLDocument,
             check: Callable[[LoadedConfig], None] | None = None) -> LoadedConfig:
    """Validate the new text, then swap it in atomically; ConfigError leaves the file.

    The new file keeps the old one's mode and owner (a daemon user must still be able to
    read it after `sudo newswatch rules add`), and a symlinked config is edited at its
    target rather than replaced by a plain file."""
    shown_path, path = path, path.resolve()
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                             suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(tomlkit.dumps(document))
        try:
            candidate = load_config(Path(temporary))
            if check is not None:
                check(candidate)
        except ConfigError as error:
            raise ConfigError(
                [problem.replace(temporary, str(shown_path)) for problem in error.problems]
            ) from None
        _copy_ownership(path, temporary)
        os.replace(temporary, path)
        return load_config(shown_path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)

"""The `newswatch` executable: the CLI, with Ctrl-C while it starts handled like later.

Kept apart from scheduler.cli so that an interrupt during its imports is caught too:
one line and a clean exit, never a traceback or click's "Aborted!"."""

from __future__ import annotations

import os
import sys


def interrupted(argv: list[str]) -> int:
    """Report an interrupt that came before a command could handle it; the exit status."""
    if "run" in argv and "--once" not in argv:
        sys.stderr.write("newswatch: stopped before the daemon had started\n")
        return 0  # as a Ctrl-C on the running daemon
    sys.stderr.write("newswatch: interrupted\n")
    return 130


def main() -> None:
    argv = sys.argv[1:]
    # newswatch uses no Pydantic plugin; looking for them scans every installed package's
    # entry points when the config is first validated (a tenth of a second here).
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    try:
        import click

        from scheduler.cli import main as cli

        try:
            result = cli.main(argv, prog_name="newswatch", standalone_mode=False)
        except click.ClickException as error:  # usage errors, as click prints them
            error.show()
            sys.exit(error.exit_code)
        except click.Abort:  # click's name for a Ctrl-C while it parses or prompts
            sys.exit(interrupted(argv))
        sys.exit(result if isinstance(result, int) else 0)
    except KeyboardInterrupt:
        sys.exit(interrupted(argv))

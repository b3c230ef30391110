"""How long `newswatch` takes to start: `--help` and the read-only commands.

Each command runs in a fresh process in two temporary folders: "history", a SQLite
database with realistic content (ARTICLES articles of a year from 1,000 sources, grouped
in stories, with matches and sent alerts: bench/bigdb.py's seed, then every migration;
30 of the sources, 20 rules and a channel in config.toml), and "fresh", what a newcomer
has after `newswatch init` (one source, rule and channel) and `newswatch db upgrade`
(`articles show` is left out there: it has no article to show). The rounds are interleaved
(round 1 of every command, then round 2, ...) so that the load other processes put on
the machine spreads over all of them alike. Printed per command: median and best wall
time, median CPU time (user+sys of the process: what the command itself costs, less
sensitive to that load), that CPU time as a ratio of the same run's floor, and the
heavy libraries it imported. The goal is under 0.5 s wall for each on a quiet machine.

The floors, measured in the same rounds: `python -c pass`, and `import sqlalchemy` (Core:
what any command reading the database must load; the read-only ones need no ORM).

With `--baseline DIR` (a checkout of another commit, e.g. `git archive HEAD~3 | tar -x -C
DIR`), each command also runs from DIR's code in the same rounds, and the ratio of the two
CPU times is printed: old against new in one run.

    .venv/bin/python bench/startup.py [--rounds 7] [--articles 5000] [--only status]
                                      [--folder history|fresh] [--baseline DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENTRY = "from scheduler.entry import main; main()"
HEAVY = ("apprise", "alembic", "numpy", "scrapy", "twisted", "fastapi", "sqlalchemy",
         "sqlalchemy.orm", "sqlalchemy.dialects.postgresql", "pydantic", "wordfreq",
         "tldextract", "rich")
COMMANDS = [
    ["--help"],
    ["rules", "--help"],
    ["sources", "--help"],
    ["config", "check"],
    ["rules", "list"],
    ["channels", "list"],
    ["status"],
    ["sources", "list"],
    ["stories"],
    ["alerts", "list"],
    ["articles", "show", "{article}"],
    ["search", "harbour"],
]
SOURCES = 30
PROBE = """\
import sys
from scheduler.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print("HEAVY " + ",".join(m for m in {heavy!r} if m in sys.modules), file=sys.stderr)
"""


def config_text() -> str:
    sources = "".join(f'[[sources]]\nname = "Source {n}"\n'
                      f'url = "https://outlet{n}.example.org/feed"\n\n'
                      for n in range(1, SOURCES + 1))
    rules = "".join(f'[[rules]]\nname = "Topic {n}"\nquery = "harbour AND bridge{n}"\n'
                    'channels = ["desk"]\n\n' for n in range(19))
    return (
        '[storage]\nurl = "sqlite:///newswatch.db"\n\n' + sources
        + '[channels.desk]\nurls = ["json://127.0.0.1:9/hook"]\n\n'
        + '[[rules]]\nname = "Putin in Pyongyang"\nquery = "putin"\nchannels = ["desk"]\n\n'
        + rules
    )


def seed_database(folder: Path, articles: int) -> None:
    """bench/bigdb.py's year of history, brought to the newest schema."""
    code = (
        "import sys; from pathlib import Path\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from bench.bigdb import Size, seed\n"
        "from crawler.database import make_engine\n"
        "from scheduler.migrate import upgrade_database\n"
        f"url = 'sqlite:///{folder / 'newswatch.db'}'\n"
        f"seed(url, Size({articles}, {articles * 3 // 10}), None)\n"
        "engine = make_engine(url); upgrade_database(engine); engine.dispose()\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=folder, check=True,
                   capture_output=True)


def init_fresh(folder: Path) -> None:
    """A newcomer's folder: `init` with a source, a rule and a channel, then the schema."""
    for args in (["init", "--no-input", "--source", "https://outlet1.example.org/feed",
                  "--rule", "putin", "--channel", "json://127.0.0.1:9/hook"],
                 ["db", "upgrade"]):
        subprocess.run([sys.executable, "-c", ENTRY, *args], cwd=folder, check=True,
                       capture_output=True)


@dataclass
class Times:
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)


def run_once(command: list[str], cwd: Path, times: Times, code: Path | None) -> None:
    env = {**os.environ, "PYTHONPATH": str(code)} if code else None
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, capture_output=True, check=False, env=env)
    times.wall.append(time.perf_counter() - started)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    times.cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{result.stderr.decode()}")


def heavy_imports(args: list[str], cwd: Path, code: Path | None) -> str:
    env = {**os.environ, "PYTHONPATH": str(code)} if code else None
    result = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY), *args], cwd=cwd,
                            capture_output=True, text=True, check=False, env=env)
    line = next((text for text in result.stderr.splitlines() if text.startswith("HEAVY ")), "")
    return line.removeprefix("HEAVY ") or "none"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--articles", type=int, default=5000,
                        help="articles in the database (default 5,000)")
    parser.add_argument("--only", action="append", default=[],
                        help="only the commands starting with this word (repeatable)")
    parser.add_argument("--folder", action="append", choices=("history", "fresh"), default=[],
                        help="only this folder (repeatable; default both)")
    parser.add_argument("--baseline", type=Path,
                        help="another checkout whose commands run in the same rounds")
    options = parser.parse_args()
    commands = [args for args in COMMANDS
                if not options.only or args[0] in options.only]
    folders = options.folder or ["history", "fresh"]
    with tempfile.TemporaryDirectory() as temporary:
        cwds = {name: Path(temporary) / name for name in folders}
        for path in cwds.values():
            path.mkdir()
        if "history" in cwds:
            (cwds["history"] / "config.toml").write_text(config_text(), encoding="utf-8")
            seed_database(cwds["history"], options.articles)
        if "fresh" in cwds:
            init_fresh(cwds["fresh"])
        article = str(options.articles // 2)
        baseline = options.baseline.resolve() if options.baseline else None
        first = cwds[folders[0]]
        # label -> (command, folder, code folder on PYTHONPATH or None for this checkout)
        runs: dict[str, tuple[list[str], Path, Path | None]] = {
            "python -c pass": ([sys.executable, "-c", "pass"], first, None),
            "import sqlalchemy": ([sys.executable, "-c", "import sqlalchemy"], first, None),
        }
        for name, cwd in cwds.items():
            for args in commands:
                if name == "fresh" and "{article}" in args:
                    continue
                args = [article if arg == "{article}" else arg for arg in args]
                label = f"{name}: newswatch " + " ".join(args)
                runs[label] = ([sys.executable, "-c", ENTRY, *args], cwd, None)
                if baseline:
                    runs[f"  baseline: {label}"] = ([sys.executable, "-c", ENTRY, *args], cwd,
                                                    baseline)
        times = {label: Times() for label in runs}
        env_note = f"load {os.getloadavg()[0]:.1f} before"
        for _ in range(options.rounds):
            for label, (command, cwd, code) in runs.items():
                run_once(command, cwd, times[label], code)
        floor = statistics.median(times["python -c pass"].cpu)
        print(f"{options.articles:,} articles, {options.rounds} interleaved rounds, "
              f"{env_note}, load {os.getloadavg()[0]:.1f} after")
        print(f"{'':50} {'wall median':>11} {'best':>6} {'CPU median':>10} {'CPU/pass':>8}"
              f"{'  base/new' if baseline else ''}  heavy imports")
        for label, (command, cwd, code) in runs.items():
            measured = times[label]
            cpu = statistics.median(measured.cpu)
            versus = ""
            if baseline and not label.startswith(("  baseline", "python", "import")):
                old = statistics.median(times[f"  baseline: {label}"].cpu)
                versus = f"{old / cpu:10.2f}"
            elif baseline:
                versus = " " * 10
            heavy = heavy_imports(command[3:], cwd, code) if "newswatch" in label else ""
            print(f"{label:50} {statistics.median(measured.wall):9.3f} s "
                  f"{min(measured.wall):6.3f} {cpu:8.3f} s {cpu / floor:8.1f}{versus}  {heavy}")

if __name__ == "__main__":
    main()

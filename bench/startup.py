"""How long `newswatch` takes to start: `--help` and the read-only commands.

Each command runs several times in a fresh process against a small migrated SQLite
database in a temporary folder; the median and best wall-clock times are printed, with
the import time of the CLI module (`python -X importtime`) and the heavy libraries a
command imported. The goal is under 0.5 s for each. Times on a busy machine are noisy:
compare the commands with each other, and with `python -c pass` (printed first).

    .venv/bin/python bench/startup.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

NEWSWATCH = str(Path(sys.executable).with_name("newswatch"))
HEAVY = ("apprise", "alembic", "numpy", "scrapy", "twisted", "sqlalchemy")
COMMANDS = [
    ["--help"],
    ["rules", "list"],
    ["config", "check"],
    ["channels", "list"],
    ["status"],
    ["sources", "list"],
    ["stories"],
    ["alerts", "list"],
]
CONFIG = """\
[storage]
url = "sqlite:///newswatch.db"

[[sources]]
name = "Example"
url = "https://example.com/feed.xml"

[channels.desk]
urls = ["json://127.0.0.1:9/hook"]

[[rules]]
name = "Putin"
query = "putin"
channels = ["desk"]
"""
PROBE = """\
import sys
from scheduler.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print("HEAVY " + ",".join(m for m in {heavy!r} if m in sys.modules), file=sys.stderr)
"""


def timed(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, capture_output=True, check=False)
    return time.perf_counter() - started


def heavy_imports(args: list[str], cwd: Path) -> str:
    result = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY), *args], cwd=cwd,
                            capture_output=True, text=True, check=False)
    line = next((text for text in result.stderr.splitlines() if text.startswith("HEAVY ")), "")
    return line.removeprefix("HEAVY ") or "none"


def cli_import_time() -> float:
    result = subprocess.run([sys.executable, "-X", "importtime", "-c", "import scheduler.cli"],
                            capture_output=True, text=True, check=False)
    for line in result.stderr.splitlines():
        if line.rstrip().endswith("| scheduler.cli"):
            return int(line.split("|")[1]) / 1e6
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        cwd = Path(folder)
        (cwd / "config.toml").write_text(CONFIG, encoding="utf-8")
        subprocess.run([NEWSWATCH, "db", "upgrade"], cwd=cwd, capture_output=True, check=True)
        baseline = [timed([sys.executable, "-c", "pass"], cwd) for _ in range(options.rounds)]
        print(f"{'python -c pass':28} median {statistics.median(baseline):.3f} s  "
              f"best {min(baseline):.3f} s")
        print(f"{'import scheduler.cli':28} {cli_import_time():.3f} s (-X importtime)")
        for args in COMMANDS:
            times = [timed([NEWSWATCH, *args], cwd) for _ in range(options.rounds)]
            label = "newswatch " + " ".join(args)
            print(f"{label:28} median {statistics.median(times):.3f} s  best {min(times):.3f} s"
                  f"  heavy imports: {heavy_imports(args, cwd)}")


if __name__ == "__main__":
    main()

"""Ingest throughput: 1,000 new pages across 100 local outlets through `newswatch run --once`.

Usage:
    .venv/bin/python bench/ingest.py                       # 100 outlets x 10 pages, 2 runs
    .venv/bin/python bench/ingest.py --outlets 20          # a quicker round
    .venv/bin/python bench/ingest.py --daemon-rounds 10    # then 10 rounds in the daemon

Each outlet is its own HTTP server on its own loopback address (127.0.1.N), with an RSS
feed of its pages and ETag validators (bench/crawl.py's `Site`). Half of its pages are
real publisher HTML from ../shared/data (the Fundus 80 and extraction-dev, gzipped),
each given a distinct URL, fresh ISO dates and a fifth of its words swapped
(bench/crawl.py's `article_page`); the other half are generated in the page templates of
tests/outlets.py.

What it prints, for the first run (every page new) and the second (every feed 304):
wall time and pages per second, CPU milliseconds per page of `run --once` and every
process it started (crawl child, extraction workers), and peak resident memory of that
whole process tree (sampled every 100 ms; summed RSS and PSS), and the CPU seconds of
each process of the first run (read from /proc at the same samples: what each really
ran; py-spy's samples also count the time a process waits for a core, which on a busy
machine is most of a worker's time). Before the crawl, the
same pages go through
`crawler.extract.extract_article` directly in this process: the project's own
extraction-only CPU per page, and the ratio of the crawl's CPU to it.

`--daemon-rounds N` then starts the daemon (`newswatch run`, 1 s intervals through the
test-only NEWSWATCH_TEST_MIN_INTERVAL), publishes one new page per outlet per round, waits
until the round's pages are stored, and prints the daemon's and the process tree's
memory per round.

`--profile FILE` records the first run with py-spy (every process, `--subprocesses`)
as a speedscope file, when py-spy is installed (the all-304 run to FILE with `.304`
before its suffix).

`--baseline REF` measures the code of git revision REF (or of folder REF) as well, in
the same run against the same outlets (each on a fresh database; the code extracted with
`git archive` and put first on PYTHONPATH of `run --once` and the crawl it starts), and
prints the current code's figures as ratios to it: on a shared machine only figures
taken side by side compare.
"""

from __future__ import annotations

import argparse
import gzip
import html
import json
import os
import random
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from crawl import Site, article_page, vocabulary  # noqa: E402
from outlets import TEMPLATES  # noqa: E402

from crawler.extract import extract_article  # noqa: E402

NEWSWATCH = str(Path(sys.executable).with_name("newswatch"))
DATA = ROOT.parent / "shared" / "data"
REAL_SETS = ("fundus-eval", "extraction-dev")
RULES = ("election", "storm OR flood", "police court", "market* AND energy", "ukraine")


@dataclass
class Page:
    outlet: int
    path: str
    title: str
    published: datetime
    body: bytes


# --- pages and outlets -----------------------------------------------------------------


def real_templates() -> list[tuple[str, str]]:
    """(html, title) of every real page of the shared sets."""
    templates = []
    for name in REAL_SETS:
        folder = DATA / name
        truth = json.loads((folder / "ground_truth.json").read_text(encoding="utf-8"))
        for file in sorted(truth):
            raw = gzip.decompress((folder / "html" / file).read_bytes())
            text = raw.decode("utf-8", "replace")
            templates.append((text, truth[file].get("title") or ""))
    return templates


def generated_page(rng: random.Random, words: list[str], index: int,
                   published: datetime, url: str) -> tuple[str, bytes]:
    title = " ".join(rng.choice(words).capitalize() for _ in range(7)) + f" {index}"
    paragraphs = [
        " ".join(rng.choice(words) for _ in range(rng.randint(25, 60))).capitalize() + "."
        for _ in range(rng.randint(4, 12))
    ]
    page = TEMPLATES[("gazette", "courier", "bulletin")[index % 3]].format(
        title=html.escape(title),
        title_json=title.replace('"', '\\"'),
        url=url,
        author=f"{rng.choice(words).capitalize()} {rng.choice(words).capitalize()}",
        published=published.isoformat(timespec="seconds"),
        published_human=f"{published:%d %B %Y}",
        paragraphs="\n".join(f"<p>{html.escape(p)}</p>" for p in paragraphs),
    )
    return title, page.encode("utf-8")


class Outlets:
    """`count` outlets, each a Site on its own loopback address with a feed."""

    def __init__(self, count: int) -> None:
        self.sites = [Site(f"127.0.1.{n + 1}") for n in range(count)]
        self.pages: list[list[Page]] = [[] for _ in range(count)]
        self.templates = real_templates()
        self.words = vocabulary(self.templates[:80])
        self.made = 0

    def start(self) -> None:
        for site in self.sites:
            site.start()

    def stop(self) -> None:
        for site in self.sites:
            site.stop()

    @property
    def requests(self) -> int:
        return sum(site.requests for site in self.sites)

    def publish(self, per_outlet: int, now: datetime | None = None) -> list[Page]:
        """Add `per_outlet` new pages to each outlet (alternately real and generated)."""
        now = now or datetime.now(UTC)
        added = []
        for outlet, site in enumerate(self.sites):
            for _ in range(per_outlet):
                index = self.made
                self.made += 1
                published = now - timedelta(minutes=5 + index % 600)
                path = f"/news/{index}/story-{index}/"
                if index % 2 == 0:
                    template = self.templates[(index // 2 * 7) % len(self.templates)]
                    title, body = article_page(template, index, self.words, published)
                else:
                    title, body = generated_page(random.Random(index), self.words, index,
                                                 published, site.base + path)
                page = Page(outlet, path, title, published, body)
                site.add(path, body, "text/html; charset=utf-8")
                self.pages[outlet].append(page)
                added.append(page)
            self._write_feed(outlet)
        return added

    def _write_feed(self, outlet: int) -> None:
        site = self.sites[outlet]
        items = "".join(
            f"<item><title>{html.escape(page.title)}</title><link>{site.base}{page.path}</link>"
            f"<pubDate>{format_datetime(page.published)}</pubDate>"
            f"<description>{html.escape(page.title)}</description></item>"
            for page in self.pages[outlet][-50:]
        )
        site.add("/feed.xml", (
            '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            f"<title>Outlet {outlet}</title><link>{site.base}/</link>{items}</channel></rss>"
        ).encode(), "application/rss+xml")

    def url(self, page: Page) -> str:
        return self.sites[page.outlet].base + page.path


def write_config(folder: Path, outlets: Outlets, interval: str = "10m",
                 workers: int | None = None) -> Path:
    sources = "".join(
        f'[[sources]]\nname = "Outlet {n}"\nurl = "{site.base}/feed.xml"\n\n'
        for n, site in enumerate(outlets.sites)
    )
    rules = "".join(
        f'[[rules]]\nname = "rule {n}"\nquery = "{query}"\nchannels = ["log"]\n\n'
        for n, query in enumerate(RULES)
    )
    path = folder / "config.toml"
    path.write_text(
        f'[storage]\nurl = "sqlite:///{folder / "ingest.db"}"\n\n'
        '[crawler]\ndownload_delay = "0s"\nconcurrent_requests = 32\n'
        'concurrent_requests_per_domain = 4\ncrawl_time_limit = "30m"\n'
        f'max_article_age = "30d"\nmax_poll_interval = "{interval}"\n'
        + (f"extraction_workers = {workers}\n" if workers is not None else "") + "\n"
        f'[defaults]\ninterval = "{interval}"\n\n'
        '[daemon]\ndeliver_interval = "5s"\n\n'
        '[channels.log]\nurls = ["log://"]\n\n' + rules + sources,
        encoding="utf-8",
    )
    return path


# --- measuring -------------------------------------------------------------------------


def extraction_only(outlets: Outlets, pages: list[Page]) -> float:
    """CPU seconds of extract_article over these pages, in this process."""
    started = time.process_time()
    for page in pages:
        extract_article(page.body, outlets.url(page))
    return time.process_time() - started


_TICK = os.sysconf("SC_CLK_TCK")


def tree_memory(pid: int, cpu: dict[int, tuple[str, float]] | None = None,
                ) -> tuple[int, int, list[tuple[str, int]]]:
    """(RSS, PSS) in bytes of `pid` and all its descendants, and each process's PSS by
    role. Summed RSS counts the pages forked workers share with their parent once per
    process; PSS splits them. `cpu`, if given, gets each process's role and CPU seconds
    so far, by pid."""
    rss, pss, stack, parts = 0, 0, [(pid, "")], []
    while stack:
        current, parent_role = stack.pop()
        try:
            own = 0
            for line in Path(f"/proc/{current}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1]) * 1024
                elif line.startswith("Pss:"):
                    own = int(line.split()[1]) * 1024
            pss += own
            role = _role(Path(f"/proc/{current}/cmdline").read_bytes(), parent_role)
            parts.append((role, own))
            if cpu is not None:
                stat = Path(f"/proc/{current}/stat").read_text()
                fields = stat[stat.rindex(")") + 2:].split()
                cpu[current] = (role, (int(fields[11]) + int(fields[12])) / _TICK)
            for task in Path(f"/proc/{current}/task").iterdir():
                children = (task / "children").read_text().split()
                stack.extend((int(child), role) for child in children)
        except (OSError, ValueError):
            continue
    return rss, pss, parts


def _role(cmdline: bytes, parent_role: str) -> str:
    if b"crawler.run" in cmdline:
        return "worker" if parent_role in ("crawl", "worker") else "crawl"
    if b"py-spy" in cmdline:
        return "py-spy"
    return "newswatch"


class PeakSampler:
    """Samples the resident memory of a process tree until stopped; keeps the peak, and
    each process's share at the peak."""

    def __init__(self, pid: int, every: float = 0.1) -> None:
        self.pid, self.every, self.peak, self.peak_pss = pid, every, 0, 0
        self.parts: list[tuple[str, int]] = []
        # Each process's CPU seconds at its last sample (up to `every` short of its total):
        # what each process really ran, where py-spy's samples also count the time a
        # process was ready to run but waited for a core.
        self.cpu: dict[int, tuple[str, float]] = {}
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.done.wait(self.every):
            rss, pss, parts = tree_memory(self.pid, self.cpu)
            self.peak = max(self.peak, rss)
            if pss > self.peak_pss:
                self.peak_pss, self.parts = pss, parts

    def reset(self) -> None:
        self.peak = self.peak_pss = 0

    def stop(self) -> None:
        self.done.set()
        self.thread.join()

    def cpu_by_role(self) -> str:
        """CPU seconds of each process, by role (the newswatch parent, the crawl
        process with its threads, each extraction worker)."""
        order = {"newswatch": 0, "crawl": 1}
        parts = sorted(self.cpu.values(), key=lambda part: order.get(part[0], 2))
        return ", ".join(f"{role} {seconds:.1f}" for role, seconds in parts)

    def shares(self) -> str:
        """PSS per process at the peak, in MB."""
        return ", ".join(f"{role} {share / 2**20:.0f}" for role, share in self.parts)


@dataclass
class RunResult:
    wall: float
    cpu: float
    peak_rss: int
    peak_pss: int
    shares: str
    stored: int
    summary: str
    cpu_by_role: str


def run_once(config: Path, profile: Path | None = None,
             code: Path | None = None) -> RunResult:
    """One `run --once`; `code`: a checkout whose packages it imports instead."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    env = None if code is None else {**os.environ, "PYTHONPATH": str(code)}
    command = [NEWSWATCH, "--config", str(config), "run", "--once"]
    if profile is not None:
        command = ["py-spy", "record", "--subprocesses", "--gil", "--nonblocking",
                   "--format", "speedscope",
                   "--rate", "50", "-o", str(profile), "--", *command]
    started = time.perf_counter()
    # Not from the bench's folder: the crawl child runs `python -m crawler.run`, whose
    # sys.path starts with its working directory, ahead of PYTHONPATH; run from the
    # project's root, the baseline's crawl imported the current code.
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True, env=env, cwd=config.parent)
    sampler = PeakSampler(process.pid)
    _, errors = process.communicate()
    wall = time.perf_counter() - started
    sampler.stop()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if process.returncode != 0:
        raise SystemExit(f"run --once failed ({process.returncode}):\n{errors[-3000:]}")
    summary = next((line for line in errors.splitlines() if line.startswith("crawl: ")), "")
    stored = int(summary.split()[1]) if summary else 0
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return RunResult(wall, cpu, sampler.peak, sampler.peak_pss, sampler.shares(), stored,
                     summary, sampler.cpu_by_role())


def articles_stored(database: Path) -> int:
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30) as connection:
            return connection.execute("SELECT count(*) FROM articles").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


def daemon_rounds(outlets: Outlets, rounds: int) -> None:
    """Rounds of the daemon on a database of its own: the first round stores every page
    published so far, each later one the page each outlet adds."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config = write_config(folder, outlets, interval="1s")
        database = folder / "ingest.db"
        env = {**os.environ, "NEWSWATCH_TEST_MIN_INTERVAL": "1s"}
        daemon = subprocess.Popen([NEWSWATCH, "--config", str(config), "run"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        sampler = PeakSampler(daemon.pid)
        try:
            stored = 0
            for number in range(1, rounds + 1):
                started = time.monotonic()
                sampler.reset()
                added = len(outlets.publish(1)) if number > 1 else outlets.made
                stored = _wait_until_stored(database, stored, added, started)
                print(f"round {number:>2}: {stored:>5} articles stored ({added} pages new) in "
                      f"{time.monotonic() - started:5.1f}s; daemon RSS "
                      f"{_own_rss(daemon.pid) / 2**20:6.1f} MB, peak of daemon + crawl "
                      f"processes {_memory(sampler.peak, sampler.peak_pss)} "
                      f"(PSS MB at the peak: {sampler.shares()})", flush=True)
        finally:
            sampler.stop()
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(timeout=60)


def _wait_until_stored(database: Path, before: int, added: int, started: float) -> int:
    """The article count once at least 70% of the added pages are stored (some real
    pages give no article) and it has not moved for 3 s; at most 5 minutes."""
    stored, last_change = before, time.monotonic()
    while time.monotonic() - started < 300:
        time.sleep(0.5)
        now = articles_stored(database) if database.exists() else 0
        if now != stored:
            stored, last_change = now, time.monotonic()
        elif stored - before >= added * 0.7 and time.monotonic() - last_change > 3:
            break
    return stored


def _own_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _memory(rss: int, pss: int) -> str:
    return f"{rss / 2**20:.0f} MB RSS summed, {pss / 2**20:.0f} MB PSS"


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


def baseline_code(ref: str, into: Path) -> Path:
    """The packages of git revision `ref`, extracted into `into`; `ref` may also be a
    folder holding them (a checkout, an extracted archive)."""
    if (Path(ref) / "crawler").is_dir():
        return Path(ref).resolve()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "crawler", "scheduler",
                              "alerts"], capture_output=True, check=False)
    if archive.returncode != 0:
        raise SystemExit(f"--baseline {ref}: {archive.stderr.decode().strip()}")
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


@dataclass
class Pair:
    """A first run and the all-304 run after it, on one fresh database."""

    first: RunResult
    second: RunResult


def measure(outlets: Outlets, count: int, per_page: float, label: str,
            workers: int | None, code: Path | None, profile: Path | None) -> Pair:
    with tempfile.TemporaryDirectory() as tmp:
        config = write_config(Path(tmp), outlets, workers=workers)
        first = run_once(config, profile, code)
        cpu_page = first.cpu / count * 1000
        print(f"{label}first run: {first.stored} stored of {count} pages in "
              f"{first.wall:.1f}s = {count / first.wall:.1f} pages/s; CPU "
              f"{cpu_page:.1f} ms/page = {cpu_page / per_page:.2f}x extraction only; "
              f"peak memory {_memory(first.peak_rss, first.peak_pss)} "
              f"(PSS MB at the peak: {first.shares}); CPU s by process: "
              f"{first.cpu_by_role} ({first.summary})", flush=True)
        before = outlets.requests
        second = run_once(config, profile and profile.with_suffix(".304" + profile.suffix),
                          code)
        print(f"{label}second run (all 304): {second.wall:.1f}s, "
              f"{outlets.requests - before} requests, {second.stored} new; CPU "
              f"{second.cpu:.1f}s; peak memory "
              f"{_memory(second.peak_rss, second.peak_pss)}", flush=True)
    return Pair(first, second)


def compare(label: str, new: list[Pair], old: list[Pair]) -> None:
    """The current code's best figures as ratios to the baseline's best."""
    def best(pairs: list[Pair]) -> tuple[float, float, float, int]:
        return (min(pair.first.wall for pair in pairs), min(pair.first.cpu for pair in pairs),
                min(pair.second.wall for pair in pairs),
                min(pair.first.peak_pss for pair in pairs))

    (wall, cpu, wall_304, pss), (old_wall, old_cpu, old_304, old_pss) = best(new), best(old)
    print(f"{label}current / baseline, best of {len(new)}: first-run pages/s "
          f"{old_wall / wall:.2f}x, CPU {cpu / old_cpu:.2f}x, all-304 time "
          f"{wall_304 / old_304:.2f}x, peak PSS {pss / old_pss:.2f}x", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outlets", type=int, default=100)
    parser.add_argument("--pages", type=int, default=10, help="pages per outlet")
    parser.add_argument("--daemon-rounds", type=int, default=0, metavar="N")
    parser.add_argument("--only-daemon", action="store_true",
                        help="skip the run --once runs (with --daemon-rounds)")
    parser.add_argument("--profile", type=Path, metavar="FILE")
    parser.add_argument("--workers", type=lambda text: [int(n) for n in text.split(",")],
                        metavar="N,M", help="compare crawler.extraction_workers settings "
                        "(a fresh database for each; default: the product's default)")
    parser.add_argument("--baseline", metavar="REF",
                        help="also measure git revision REF (or the code in folder REF), "
                        "alternately, in this run")
    parser.add_argument("--repeat", type=int, default=1, metavar="N",
                        help="measure each setting N times (the comparison takes the best)")
    args = parser.parse_args()
    if args.profile and not shutil.which("py-spy"):
        raise SystemExit("--profile needs py-spy on PATH")

    outlets = Outlets(args.outlets)
    pages = outlets.publish(args.pages)
    outlets.start()
    count = len(pages)
    print(f"{args.outlets} outlets, {count} pages ({len(pages[::2])} real, the rest "
          f"generated); {load()}", flush=True)
    extract_cpu = extraction_only(outlets, pages[:50] if args.only_daemon else pages)
    per_page = extract_cpu / (50 if args.only_daemon else count) * 1000
    print(f"extraction only (extract_article in one process): {per_page:.1f} ms CPU/page",
          flush=True)
    try:
        with tempfile.TemporaryDirectory() as code_folder:
            old_code = baseline_code(args.baseline, Path(code_folder)) if args.baseline else None
            for workers in [] if args.only_daemon else args.workers or [None]:
                label = "" if workers is None else f"[extraction_workers = {workers}] "
                new: list[Pair] = []
                old: list[Pair] = []
                for _ in range(args.repeat):
                    if old_code is not None:
                        old.append(measure(outlets, count, per_page,
                                           f"[baseline {args.baseline}] {label}", workers,
                                           old_code, None))
                    new.append(measure(outlets, count, per_page, label, workers, None,
                                       args.profile))
                    print(f"after: {load()}", flush=True)
                if old:
                    compare(label, new, old)
        if args.daemon_rounds:
            daemon_rounds(outlets, args.daemon_rounds)
    finally:
        outlets.stop()


if __name__ == "__main__":
    main()

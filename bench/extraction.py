"""Score newswatch's article extraction against plain trafilatura, per source and language.

Usage: .venv/bin/python bench/extraction.py [--heldout] [--rounds N] [--only fundus|dev]
                                             [--baseline DIR]

Corpora (from ../shared/data): the 80 Fundus pages and the extraction-dev corpus. The
latter is split here, deterministically, into a dev part and a held-out part (about 30%,
chosen by the SHA-1 of the file name within each source and language, so that every
source and language with two or more pages has pages in both). The held-out part is
scored only with --heldout, and reported on its own: it is the check on pages the
extractor was not tuned on.

Every extractor sees the same pages in the same run: newswatch (`extract_article` on the
page bytes) and trafilatura 2 in its default mode and with `favor_precision=True` (on
the text decoded by the page's declared charset). Figures:
- body: shingle P/R/F1 (../shared/tools/shingle_f1.py), on pages with a body truth;
- title: exact (whitespace-normalised) and lenient (NFKC, case-folded, word characters
  only) match, on pages with a title truth;
- authors: set F1 over case-folded names, on pages with an author truth;
- date: same day at the truth's precision (one day allowed for postlight, whose truth
  was converted to UTC), and to the minute where both the truth and the extractor state
  a time;
- ms/page: each page timed ROUNDS times, the fastest kept, extractors interleaved.

With --baseline DIR (a checkout of older code, e.g. `git worktree add /tmp/main main`),
that code's `extract_article` is scored too, as "old", in the same run: it runs in a
worker process (two versions of one package cannot share a process) that times each
call itself, so the pipe between the processes is not counted.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import importlib.util
import json
import pickle
import re
import subprocess
import sys
import time
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import trafilatura  # noqa: E402

from crawler.extract import extract_article  # noqa: E402
from crawler.extract.markup import decode_html  # noqa: E402

SHARED = ROOT.parent / "shared"
FUNDUS = SHARED / "data" / "fundus-eval"
DEV = SHARED / "data" / "extraction-dev"
SCORER = SHARED / "tools" / "shingle_f1.py"
HELDOUT_SHARE = 0.3
# A source whose dates were converted to UTC by its own tooling: a local date may read
# as the previous day.
UTC_CONVERTED_SOURCES = frozenset({"postlight"})
_WORDS = re.compile(r"\w+")


@dataclass
class Page:
    name: str
    source: str
    lang: str
    html: bytes
    url: str
    body: str | None = None
    title: str | None = None
    authors: list[str] | None = None
    published: str | None = None
    text: str = ""  # the HTML decoded by its declared charset, for trafilatura


@dataclass
class Output:
    body: str = ""
    title: str | None = None
    authors: list[str] = field(default_factory=list)
    published: datetime | date | None = None
    has_time: bool = False


# --- corpora and the split -------------------------------------------------------------


def _digest(name: str) -> str:
    return hashlib.sha1(name.encode()).hexdigest()


def split_dev(names_by_group: dict[tuple[str, str], list[str]]) -> set[str]:
    """Names held out: in each (source, language) group of n >= 2 pages, the round(0.3 n)
    (at least one) whose SHA-1 comes first. Single pages stay in dev."""
    held: set[str] = set()
    for names in names_by_group.values():
        if len(names) < 2:
            continue
        count = max(1, round(len(names) * HELDOUT_SHARE))
        held.update(sorted(names, key=_digest)[:count])
    return held


def load_fundus(folder: Path = FUNDUS) -> list[Page]:
    truth = json.loads((folder / "ground_truth.json").read_text(encoding="utf-8"))
    return [
        Page(name, "fundus", "en", gzip.decompress((folder / "html" / name).read_bytes()),
             entry["url"], body="\n".join(entry["body"]))
        for name, entry in sorted(truth.items())
    ]


def load_dev(folder: Path = DEV) -> tuple[list[Page], list[Page]]:
    """(dev part, held-out part) of the extraction-dev corpus."""
    truth = json.loads((folder / "ground_truth.json").read_text(encoding="utf-8"))
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for name, entry in truth.items():
        groups[(entry["source"], entry["lang"] or "?")].append(name)
    held = split_dev(groups)
    dev: list[Page] = []
    heldout: list[Page] = []
    for name, entry in sorted(truth.items()):
        page = Page(
            name, entry["source"], entry["lang"] or "?",
            gzip.decompress((folder / "html" / name).read_bytes()),
            entry["url"] or f"https://unknown.invalid/{name}",
            body=entry["body"], title=entry["title"], authors=entry["authors"],
            published=entry["published"],
        )
        (heldout if name in held else dev).append(page)
    return dev, heldout


# --- extractors ----------------------------------------------------------------------


def ours(page: Page) -> Output:
    article = extract_article(page.html, page.url)
    published: datetime | date | None = article.published
    precision = getattr(article, "published_precision", None)
    has_time = published is not None and precision not in ("day", "month", "year")
    if published is not None and not has_time:
        published = published.date()
    return Output(article.body, article.title, article.authors, published, has_time)


_BASELINE_WORKER = """
import pickle, sys, time
sys.path.insert(0, sys.argv[1])
from crawler.extract import extract_article
read, write = sys.stdin.buffer, sys.stdout.buffer
while True:
    try:
        html, url = pickle.load(read)
    except EOFError:
        break
    start = time.perf_counter()
    article = extract_article(html, url)
    seconds = time.perf_counter() - start
    pickle.dump((seconds, article.body, article.title, article.authors, article.published,
                 getattr(article, "published_precision", None)), write)
    write.flush()
"""


class Baseline:
    """Older code's extractor, in a worker process started from its checkout."""

    def __init__(self, checkout: Path) -> None:
        if not (checkout / "crawler").is_dir():
            raise SystemExit(f"--baseline: no crawler package in {checkout}")
        self.worker = subprocess.Popen(
            [sys.executable, "-c", _BASELINE_WORKER, str(checkout)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=checkout)
        self.last_seconds = 0.0

    def __call__(self, page: Page) -> Output:
        assert self.worker.stdin and self.worker.stdout
        pickle.dump((page.html, page.url), self.worker.stdin)
        self.worker.stdin.flush()
        seconds, body, title, authors, published, precision = pickle.load(self.worker.stdout)
        self.last_seconds = seconds
        has_time = published is not None and precision not in ("day", "month", "year")
        if published is not None and not has_time:
            published = published.date()
        return Output(body, title, authors, published, has_time)

    def close(self) -> None:
        if self.worker.stdin:
            self.worker.stdin.close()
        self.worker.wait(timeout=30)


def _trafilatura(page: Page, **modes: bool) -> Output:
    return Output(trafilatura.extract(page.text, url=page.url, **modes) or "")


def trafilatura_default(page: Page) -> Output:
    return _trafilatura(page)


def trafilatura_precision(page: Page) -> Output:
    return _trafilatura(page, favor_precision=True)


def trafilatura_metadata(page: Page) -> Output:
    """trafilatura's own title, authors and date (not timed: the body runs are)."""
    meta = trafilatura.extract_metadata(page.text, default_url=page.url)
    if meta is None:
        return Output()
    published = None
    if meta.date:
        try:
            published = date.fromisoformat(meta.date[:10])
        except ValueError:
            published = None
    authors = [a.strip() for a in (meta.author or "").split(";") if a.strip()]
    return Output(title=meta.title, authors=authors, published=published)


EXTRACTORS: dict[str, Callable[[Page], Output]] = {
    "newswatch": ours,
    "trafilatura": trafilatura_default,
    "traf-precision": trafilatura_precision,
}


def run(pages: list[Page], rounds: int) -> tuple[dict[str, list[Output]], dict[str, float]]:
    """Outputs of each extractor and its ms/page (fastest of `rounds` runs per page,
    extractors interleaved page by page so that load from others favours neither)."""
    best = {label: [float("inf")] * len(pages) for label in EXTRACTORS}
    outputs: dict[str, list[Output]] = {label: [] for label in EXTRACTORS}
    for round_ in range(rounds):
        for index, page in enumerate(pages):
            for label, extractor in EXTRACTORS.items():
                start = time.perf_counter()
                output = extractor(page)
                elapsed = time.perf_counter() - start
                if isinstance(extractor, Baseline):
                    elapsed = extractor.last_seconds
                best[label][index] = min(best[label][index], elapsed)
                if round_ == 0:
                    outputs[label].append(output)
    metadata = [trafilatura_metadata(page) for page in pages]
    for body_only, meta in zip(outputs["trafilatura"], metadata, strict=True):
        body_only.title, body_only.authors, body_only.published = (
            meta.title, meta.authors, meta.published)
    ms = {label: sum(times) * 1000 / max(1, len(pages)) for label, times in best.items()}
    return outputs, ms


# --- scoring -----------------------------------------------------------------------------


def load_scorer(path: Path = SCORER) -> ModuleType:
    spec = importlib.util.spec_from_file_location("shingle_f1", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load the scorer at {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _lenient(text: str) -> str:
    return " ".join(_WORDS.findall(unicodedata.normalize("NFKC", text).casefold()))


def title_scores(found: str | None, truth: str) -> tuple[bool, bool]:
    if not found:
        return False, False
    return " ".join(found.split()) == " ".join(truth.split()), _lenient(found) == _lenient(truth)


# Chinese and Japanese names are written with or without a space between family and
# given name ("嶋田 健志", "嶋田健志"): the same name either way.
_CJK = r"[\u3040-\u30ff\u3400-\u9fff]"
_SPACE_IN_CJK_NAME = re.compile(f"(?<={_CJK}) (?={_CJK})")


def _name_key(name: str) -> str:
    return _SPACE_IN_CJK_NAME.sub("", _lenient(name))


def author_f1(found: list[str], truth: list[str]) -> float:
    got = {_name_key(name) for name in found if _name_key(name)}
    want = {_name_key(name) for name in truth if _name_key(name)}
    if not got and not want:
        return 1.0
    hits = len(got & want)
    if not hits:
        return 0.0
    precision, recall = hits / len(got), hits / len(want)
    return 2 * precision * recall / (precision + recall)


def _truth_date(raw: str) -> tuple[str, datetime | None]:
    """(the truth's precision: year/month/day/time, its datetime when a time is stated)."""
    if re.fullmatch(r"\d{4}", raw):
        return "year", None
    if re.fullmatch(r"\d{4}-\d{2}", raw):
        return "month", None
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
        return "day", None
    text = raw.replace("Z", "+00:00")
    try:
        return "time", datetime.fromisoformat(text)
    except ValueError:  # a few truths carry malformed seconds: keep them to the minute
        return "time", datetime.fromisoformat(text[:16])


def date_scores(found: datetime | date | None, has_time: bool, truth: str,
                source: str) -> tuple[bool, bool | None]:
    """(same day at the truth's precision, same minute or None when not comparable)."""
    if found is None:
        return False, None if not re.search(r"T\d", truth) else False
    precision, stated = _truth_date(truth)
    if precision == "year":
        return str(found.year) == truth, None
    if precision == "month":
        return f"{found.year:04d}-{found.month:02d}" == truth, None
    if stated is not None and isinstance(found, datetime) and stated.tzinfo and found.tzinfo:
        local = found.astimezone(stated.tzinfo)
    elif isinstance(found, datetime):
        local = found.replace(tzinfo=None) if stated is None or not stated.tzinfo else found
    else:
        local = None
    day = local.date() if local is not None else found
    want = stated.date() if stated is not None else date.fromisoformat(truth)
    slack = timedelta(days=1) if source in UTC_CONVERTED_SOURCES else timedelta(0)
    same_day = abs(day - want) <= slack
    if stated is None or not has_time or not isinstance(found, datetime):
        return same_day, None
    if stated.tzinfo is None or found.tzinfo is None:
        minute = found.replace(tzinfo=None) - stated.replace(tzinfo=None)
    else:
        minute = found - stated
    return same_day, abs(minute) < timedelta(minutes=1)


@dataclass
class Scores:
    body: dict[str, float] | None = None
    title: tuple[float, float, int] | None = None  # exact, lenient, n
    authors: tuple[float, int] | None = None
    date: tuple[float, int] | None = None
    minute: tuple[float, int] | None = None


def _mean(values: list[float]) -> tuple[float, int] | None:
    return (sum(values) / len(values), len(values)) if values else None


def score(pages: list[Page], outputs: list[Output], scorer: ModuleType) -> Scores:
    pairs = [(out.body, page.body) for page, out in zip(pages, outputs, strict=True)
             if page.body is not None]
    titles = [title_scores(out.title, page.title) for page, out in zip(pages, outputs,
              strict=True) if page.title]
    authors = [author_f1(out.authors, page.authors) for page, out in zip(pages, outputs,
               strict=True) if page.authors]
    dates = [date_scores(out.published, out.has_time, page.published, page.source)
             for page, out in zip(pages, outputs, strict=True) if page.published]
    return Scores(
        body=scorer.score(pairs) if pairs else None,
        title=(sum(e for e, _ in titles) / len(titles), sum(le for _, le in titles) / len(titles),
               len(titles)) if titles else None,
        authors=_mean(authors),
        date=_mean([float(day) for day, _ in dates]),
        minute=_mean([float(minute) for _, minute in dates if minute is not None]),
    )


# --- report ------------------------------------------------------------------------------


def _cell(value: float | None, width: int = 7) -> str:
    return f"{value:>{width}.3f}" if value is not None else " " * (width - 1) + "-"


def _groups(pages: list[Page]) -> Iterable[tuple[str, list[int]]]:
    yield "all", list(range(len(pages)))
    for key in ("source", "lang"):
        found: dict[str, list[int]] = defaultdict(list)
        for index, page in enumerate(pages):
            found[f"{key}={getattr(page, key)}"].append(index)
        if len(found) > 1:
            yield from sorted(found.items(), key=lambda item: (-len(item[1]), item[0]))


def _metric(scored: dict[str, Scores], field_: str, names: list[str]) -> str:
    """n, then the figure of each extractor in `names` (title: lenient match)."""
    values = {name: getattr(scored[name], field_) for name in names}
    ours_value = values[names[0]]
    if not ours_value:
        return f"{0:>5}" + " " * 6 * len(names)
    n = ours_value[2] if field_ == "title" else ours_value[1]
    cells = [_cell(None if not v else (v[1] if field_ == "title" else v[0]), 6)
             for v in values.values()]
    return f"{n:>5}" + "".join(cells)


def report(label: str, pages: list[Page], outputs: dict[str, list[Output]],
           ms: dict[str, float], scorer: ModuleType) -> None:
    names = list(outputs)
    meta_names = [name for name in ("newswatch", "old", "trafilatura") if name in outputs]
    print(f"\n=== {label}: {len(pages)} pages ===")
    ratios = f"newswatch / trafilatura: {ms['newswatch'] / ms['trafilatura']:.2f}x"
    if "old" in ms:
        ratios += f", newswatch / old: {ms['newswatch'] / ms['old']:.2f}x"
    print("ms/page: " + ", ".join(f"{name} {ms[name]:.1f}" for name in names)
          + f"  ({ratios})")
    print("body: newswatch P/R/F1, then F1 of " + ", ".join(names[1:])
          + "; title lenient, authors F1, date same day, to the minute: "
          + " / ".join(meta_names) + "; n per metric")
    header = f"{'group':<20}{'nb':>4}{'P':>7}{'R':>7}{'F1':>7}"
    header += "".join(f"{name[:6]:>7}" for name in names[1:])
    for metric in ("title", "auth", "date", "min"):
        header += f"{'n' + metric[0]:>5}" + "".join(f"{metric if i == 0 else name[:5]:>6}"
                                                    for i, name in enumerate(meta_names))
    print(header)
    for group, indexes in _groups(pages):
        subset = [pages[i] for i in indexes]
        scored = {name: score(subset, [outputs[name][i] for i in indexes], scorer)
                  for name in names}
        body = scored["newswatch"].body
        line = f"{group:<20}"
        if body:
            line += (f"{body['n']:>4}{_cell(body['precision'])}{_cell(body['recall'])}"
                     f"{_cell(body['f1'])}")
            line += "".join(_cell(scored[name].body and scored[name].body["f1"])
                            for name in names[1:])
        else:
            line += f"{0:>4}" + " " * (21 + 7 * (len(names) - 1))
        for field_ in ("title", "authors", "date", "minute"):
            line += _metric(scored, field_, meta_names)
        print(line)
    exact = score(pages, outputs["newswatch"], scorer).title
    if exact:
        print(f"title exact: newswatch {exact[0]:.3f} of {exact[2]}")
    empty = sorted({page.lang for page, out in zip(pages, outputs["newswatch"], strict=True)
                    if page.body is not None and not out.body})
    print("languages with an empty newswatch body on some page: " + (", ".join(empty) or "none"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--heldout", action="store_true",
                        help="also score the held-out part (only for the final check)")
    parser.add_argument("--rounds", type=int, default=3, help="timing runs per page (default 3)")
    parser.add_argument("--only", choices=("fundus", "dev", "heldout"),
                        help="score one corpus only")
    parser.add_argument("--baseline", type=Path, metavar="DIR",
                        help="a checkout of older code to score beside this one, as 'old'")
    args = parser.parse_args()
    scorer = load_scorer()
    baseline = Baseline(args.baseline.resolve()) if args.baseline else None
    if baseline:
        EXTRACTORS["old"] = baseline
    dev, heldout = load_dev()
    corpora = {"Fundus 80": load_fundus(), "extraction-dev, dev part": dev}
    if args.heldout:
        corpora["extraction-dev, HELD-OUT part"] = heldout
    if args.only:
        wanted = {"fundus": "Fundus 80", "dev": "extraction-dev, dev part",
                  "heldout": "extraction-dev, HELD-OUT part"}[args.only]
        if wanted.endswith("HELD-OUT part"):
            corpora[wanted] = heldout
        corpora = {wanted: corpora[wanted]}
    for label, pages in corpora.items():
        for page in pages:
            page.text = decode_html(page.html)
        outputs, ms = run(pages, args.rounds)
        report(label, pages, outputs, ms, scorer)
    if baseline:
        baseline.close()


if __name__ == "__main__":
    main()

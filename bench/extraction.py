"""Score newswatch's article extraction against plain trafilatura on the shared news set.

Usage: .venv/bin/python bench/extraction.py [PATH_TO_FUNDUS_EVAL]

Both extractors see the same gzipped pages, in the same run, and are scored with the
shared shingle scorer (../shared/tools/shingle_f1.py). Also reports how many pages get
a publish date, and how often the page's independent date sources agree with it.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import trafilatura  # noqa: E402

from crawler.extract import extract_article  # noqa: E402
from crawler.extract_dates import SOURCE_ORDER, agrees, extract_dates  # noqa: E402
from crawler.extract_html import decode_html, parse_html  # noqa: E402
from crawler.extract_metadata import meta_tags  # noqa: E402
from crawler.extract_structured import jsonld_nodes, structured_article  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "fundus-eval"
SCORER = ROOT.parent / "shared" / "tools" / "shingle_f1.py"
# Each page is timed this many times and its fastest run kept: noise only ever adds.
ROUNDS = 3


@dataclass
class Page:
    name: str
    html: bytes
    url: str
    truth: str


@dataclass
class Result:
    label: str
    scores: dict[str, float]
    ms_per_page: float
    dated: int


def load_scorer(path: Path = SCORER) -> ModuleType:
    spec = importlib.util.spec_from_file_location("shingle_f1", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load the scorer at {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_pages(data: Path) -> list[Page]:
    truth = json.loads((data / "ground_truth.json").read_text(encoding="utf-8"))
    return [
        Page(name, gzip.decompress((data / "html" / name).read_bytes()), entry["url"],
             "\n".join(entry["body"]))
        for name, entry in sorted(truth.items())
    ]


def ours(page: Page) -> tuple[str, bool]:
    article = extract_article(page.html, page.url)
    return article.body, article.published is not None


def baseline(page: Page) -> tuple[str, bool]:
    return trafilatura.extract(page.html, url=page.url) or "", False


def baseline_dated(page: Page) -> bool:
    metadata = trafilatura.extract_metadata(page.html, default_url=page.url)
    return bool(metadata and metadata.date)


def measure(extractors: dict[str, Callable[[Page], tuple[str, bool]]], pages: list[Page],
            scorer: ModuleType) -> list[Result]:
    """Score each extractor; time them page by page, interleaved, keeping each page's
    fastest of ROUNDS runs, so that load from other processes does not favour either."""
    best = {label: [float("inf")] * len(pages) for label in extractors}
    outputs: dict[str, list[tuple[str, bool]]] = {label: [] for label in extractors}
    for round_ in range(ROUNDS):
        for index, page in enumerate(pages):
            for label, extractor in extractors.items():
                start = time.perf_counter()
                output = extractor(page)
                best[label][index] = min(best[label][index], time.perf_counter() - start)
                if round_ == 0:
                    outputs[label].append(output)
    results = []
    for label, produced in outputs.items():
        pairs = [(body, page.truth) for (body, _), page in zip(produced, pages, strict=True)]
        results.append(Result(label, scorer.score(pairs), sum(best[label]) * 1000 / len(pages),
                              sum(dated for _, dated in produced)))
    return results


def date_agreement(pages: list[Page]) -> tuple[int, int, int, int]:
    """(pages with a second source, of which all agree, source pairs compared, agreeing)."""
    checked = unanimous = pairs = agreeing = 0
    for page in pages:
        tree = parse_html(decode_html(page.html))
        if tree is None:
            continue
        evidence = extract_dates(tree, meta_tags(tree), structured_article(jsonld_nodes(tree)),
                                 page.url)
        if evidence.published is None:
            continue
        others = [value for source, value in evidence.candidates.items()
                  if source != evidence.published_source]
        if not others:
            continue
        votes = [agrees(evidence.published, value) for value in others]
        checked += 1
        unanimous += all(votes)
        pairs += len(votes)
        agreeing += sum(votes)
    return checked, unanimous, pairs, agreeing


def source_coverage(pages: list[Page]) -> dict[str, int]:
    counts = dict.fromkeys(SOURCE_ORDER, 0)
    for page in pages:
        tree = parse_html(decode_html(page.html))
        if tree is None:
            continue
        evidence = extract_dates(tree, meta_tags(tree), structured_article(jsonld_nodes(tree)),
                                 page.url)
        for source in evidence.candidates:
            counts[source] += 1
    return counts


def report(results: list[Result], pages: list[Page]) -> None:
    n = len(pages)
    print(f"{n} pages from {len({p.name.rsplit('_', 1)[0] for p in pages})} publishers")
    print(f"{'extractor':<14}{'P':>8}{'R':>8}{'F1':>8}{'ms/page':>10}{'dated':>9}")
    for r in results:
        s = r.scores
        print(f"{r.label:<14}{s['precision']:>8.4f}{s['recall']:>8.4f}{s['f1']:>8.4f}"
              f"{r.ms_per_page:>10.1f}{r.dated / n:>9.1%}")
    ours_r, base_r = results
    print(f"F1 gain over baseline: {ours_r.scores['f1'] - base_r.scores['f1']:+.4f}; "
          f"time ratio: {ours_r.ms_per_page / base_r.ms_per_page:.2f}x")
    coverage = source_coverage(pages)
    print("date sources present: " + ", ".join(f"{k} {v}/{n}" for k, v in coverage.items()))
    checked, unanimous, pairs, agreeing = date_agreement(pages)
    if checked:
        print(f"date agreement: {unanimous}/{checked} pages ({unanimous / checked:.1%}) have "
              f"every other source agree with the chosen date (within 36 h); "
              f"{agreeing}/{pairs} source pairs ({agreeing / pairs:.1%})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", type=Path, default=DEFAULT_DATA,
                        help=f"fundus-eval folder (default: {DEFAULT_DATA})")
    args = parser.parse_args()
    scorer = load_scorer()
    pages = load_pages(args.data)
    results = measure({"newswatch": ours, "trafilatura": baseline}, pages, scorer)
    results[1].dated = sum(baseline_dated(page) for page in pages)
    report(results, pages)


if __name__ == "__main__":
    main()

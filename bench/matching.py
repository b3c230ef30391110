"""Matching throughput with 100, 10,000 and 100,000 rules over 1,000 real article bodies.

Run from the project root:
    .venv/bin/python bench/matching.py [--data DIR] [--seed N] [--articles N]
                                       [--max-rules N] [--memory-rules N] [--stored N]
                                       [--rules entities|topical] [--heldout]
                                       [--compare GIT_REF]

The figures to report: `--heldout --compare main`, and `--rules topical --compare
main` for the first version's mix.

Besides articles per second it prints each rule set's build time (parsed rules to a
ready index) and the memory a rule set of --memory-rules rules holds (resident set
growth, measured in a child process so that nothing else is counted). With --stored N
it also stores N articles (recombined real bodies, first seen over the last 120 days)
in a temporary SQLite database and times `rules test QUERY --since 90d`'s search for a
few rules and two of common words: as the command runs it (`backtest_stories`, the newest
50 stories), and to the last match (`find_matching`: full-text prefilter, then the
matcher).

Two rule mixes (--rules):

* `entities` (the default): what readers watch. Rules are drawn from the names and rare
  words of one half of the real bodies (fundus-eval's 80 and extraction-dev's English
  ones, split by SHA-1 of the file name), and articles are recombined from the other
  half, so no rule is lifted from an article it is measured on. That half is split
  again: `--heldout` measures on the held-out quarter (the figures to report); without
  it the dev quarter (the one to tune on). The mix: 30% one name ("Las Vegas Sands"
  as a phrase), 15% two names or a name and a rare word, 10% a phrase of real text,
  12% an OR of 2-4 names, 8% a name with an exclusion, 7% NEAR, 6% a prefix (a rare
  word's stem that starts no common word), 6% title:, 6% lang:. Names are capitalised
  runs mid-sentence whose every word (by stem) is more often capitalised than not;
  rare words are content words in at most 3% of the rule half's bodies.
* `topical` (the mix of the first version): rules from the topical vocabulary of the
  measured articles themselves (fundus-eval's 80 bodies recombined into 1,000), words
  in 2 to 10% of them: an article matches about 2% of all rules.

Articles are matched in batches of 200 through `RuleSet.match_many`, the path a match
cycle and `rules test` take (a --compare commit without it matches one at a time).

The indexed matcher must keep the 10,000-rule rate at least 1/5 of the 100-rule rate;
the script checks it on CPU time (wall-clock is printed too, but moves with whatever
else the machine runs), checks that the index agrees with brute force on a sample, and
exits non-zero if either fails.
"""

from __future__ import annotations

import argparse
import bisect
import gc
import hashlib
import importlib
import json
import multiprocessing
import random
import re
import subprocess
import sys
import tempfile
import time
import types
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alerts.matcher import Document, RuleSet, match_every_rule
from alerts.query import Query, parse_query
from alerts.text import get_stemmer, iter_word_spans, tokenize

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared/data/fundus-eval"
DEV_DATA = Path(__file__).resolve().parents[2] / "shared/data/extraction-dev"
ARTICLES = 1_000
REQUIRED_RATIO = 0.2
STOPWORDS = frozenset({
    "the", "and", "for", "that", "with", "this", "from", "have", "has", "had", "was", "were",
    "are", "been", "will", "would", "said", "says", "not", "but", "they", "their", "them",
    "there", "than", "then", "what", "when", "which", "who", "whom", "into", "also", "about",
    "after", "over", "more", "most", "some", "such", "only", "other", "its", "his", "her",
    "she", "him", "our", "your", "you", "out",
})


def load_paragraphs(data: Path) -> list[list[str]]:
    truth = json.loads((data / "ground_truth.json").read_text(encoding="utf-8"))
    return [entry["body"] for entry in truth.values() if entry.get("body")]


def make_articles(paragraphs: list[list[str]], count: int, rnd: random.Random) -> list[Document]:
    """`count` articles: each real article's paragraphs, shuffled, plus a few paragraphs
    of another article, so that the 1,000 bodies are not 80 repeated ones."""
    articles = []
    for i in range(count):
        own = list(paragraphs[i % len(paragraphs)])
        rnd.shuffle(own)
        other = rnd.choice(paragraphs)
        body = own + rnd.sample(other, min(len(other), rnd.randint(0, 3)))
        title = " ".join(body[0].split()[:12])
        articles.append(Document(title=title, body="\n\n".join(body), language="en"))
    return articles


def vocabulary(paragraphs: list[list[str]]) -> tuple[list[str], list[list[str]]]:
    """Topical words (content words in 2 to 10% of the articles: a watch word found in
    every other article alerts on everything), and each paragraph's words."""
    stem = get_stemmer("en")
    document_frequency: Counter[str] = Counter()  # of stems: "reporter" matches "reported"
    sentences, candidates = [], set()
    for article in paragraphs:
        seen = set()
        for paragraph in article:
            words = [w for w, _, _ in iter_word_spans(paragraph)]
            sentences.append(words)
            candidates.update(w.lower() for w in words if _is_content(w))
            seen.update(token.stem for token in tokenize(paragraph, "en"))
        document_frequency.update(seen)
    most = max(2, len(paragraphs) // 10)
    words = sorted(w for w in candidates if 2 <= document_frequency[stem(w)] <= most)
    return words, [s for s in sentences if len(s) >= 2]


def _is_content(word: str) -> bool:
    return word.isalpha() and len(word) >= 4 and word.lower() not in STOPWORDS


def _phrase(rnd: random.Random, sentences: list[list[str]]) -> str:
    """Two or three consecutive words of real text, starting and ending with content words."""
    while True:
        sentence = rnd.choice(sentences)
        i = rnd.randrange(len(sentence) - 1)
        words = sentence[i : i + rnd.randint(2, 3)]
        if len(words) >= 2 and _is_content(words[0]) and _is_content(words[-1]):
            return '"' + " ".join(words) + '"'


def make_rule(rnd: random.Random, words: list[str], sentences: list[list[str]]) -> str:
    shape = rnd.random()
    if shape < 0.45:
        return " ".join(rnd.sample(words, rnd.randint(1, 4)))
    if shape < 0.60:
        return _phrase(rnd, sentences)
    if shape < 0.75:
        alternatives = " OR ".join(rnd.sample(words, rnd.randint(2, 3)))
        return f"{rnd.choice(words)} ({alternatives})" if rnd.random() < 0.5 else alternatives
    if shape < 0.85:
        return f"{' '.join(rnd.sample(words, rnd.randint(1, 2)))} -{rnd.choice(words)}"
    if shape < 0.93:
        return f"{rnd.choice(words)} NEAR/{rnd.randint(2, 10)} {rnd.choice(words)}"
    if shape < 0.97:
        return f"{rnd.choice(words)[:5]}* {rnd.choice(words)}"
    return f"title:{rnd.choice(words)} {rnd.choice(words)}"


def make_rules(count: int, rnd: random.Random,
               draw: Callable[[random.Random], str]) -> dict[str, Query]:
    rules: dict[str, Query] = {}
    while len(rules) < count:
        rules[f"rule-{len(rules)}"] = parse_query(draw(rnd))
    return rules


# ---------------------------------------------------------------- the `entities` mix

_NAME_RE = re.compile(r"(?<=[a-z,] )[A-Z][a-z]+(?:[ -][A-Z][a-z]+){0,2}\b")
_NAME_STOPWORDS = frozenset({"The", "A", "An", "In", "On", "At", "But", "And", "For", "He",
                             "She", "It", "We", "They", "This", "That", "I", "Mr", "Ms",
                             "Mrs", "Dr", "If", "As", "So", "Or", "Of", "To", "By"})


def split_bodies(data: Path, dev_data: Path) -> dict[int, list[list[str]]]:
    """Every real English body (paragraphs) by quarter 0-3 of SHA-1 of its file name:
    0 and 1 give rules, 2 is the dev part measured by default, 3 the held-out part."""
    bodies: list[tuple[str, list[str]]] = []
    truth = json.loads((data / "ground_truth.json").read_text(encoding="utf-8"))
    bodies += [(f"fundus/{k}", v["body"]) for k, v in truth.items() if v.get("body")]
    if (dev_data / "ground_truth.json").exists():
        dev = json.loads((dev_data / "ground_truth.json").read_text(encoding="utf-8"))
        bodies += [(f"dev/{k}", [p for p in v["body"].split("\n") if p.strip()])
                   for k, v in dev.items() if v.get("body") and v.get("lang") == "en"]
    parts: dict[int, list[list[str]]] = {0: [], 1: [], 2: [], 3: []}
    for key, paragraphs in sorted(bodies):
        if len(paragraphs) >= 2:
            parts[hashlib.sha1(key.encode()).digest()[0] % 4].append(paragraphs)
    return parts


class EntityRules:
    """Rules as readers write them: names, rare words and phrases of real news."""

    def __init__(self, bodies: list[list[str]]) -> None:
        names: set[str] = set()
        frequency: Counter[str] = Counter()
        spellings: Counter[str] = Counter()
        self.sentences: list[list[str]] = []
        for paragraphs in bodies:
            text = "\n".join(paragraphs)
            names.update(n for n in _NAME_RE.findall(text)
                         if n.split()[0] not in _NAME_STOPWORDS and len(n) >= 4)
            words = [w for w, _, _ in iter_word_spans(text)]
            spellings.update(words)
            frequency.update({w.lower() for w in words if _is_content(w)})
            self.sentences += [[w for w, _, _ in iter_word_spans(p)] for p in paragraphs]
        most = max(2, len(bodies) * 3 // 100)
        # A name mid-sentence whose every word is capitalised at least as often as not
        # ("Pompeo", "Las Vegas Sands"; not "Having", "New York").
        # By stem: "Peopling" would match "people".
        stem = get_stemmer("en")
        by_stem: Counter[str] = Counter()
        for word, count in spellings.items():
            by_stem[(stem(word.lower()), word[:1].isupper())] += count
        self.names = sorted(n for n in names if all(
            by_stem[(stem(w.lower()), True)] >= by_stem[(stem(w.lower()), False)]
            for w in re.split("[ -]", n)))
        self.rare = sorted(w for w, n in frequency.items() if n <= most and len(w) >= 5)
        self._common = sorted(w for w, n in frequency.items() if n > most)
        self._rare_set = set(self.rare)
        self._name_words = {word for name in self.names for word in re.split("[ -]", name)}
        self.sentences = [s for s in self.sentences if len(s) >= 3]

    def _name(self, rnd: random.Random) -> str:
        name = rnd.choice(self.names)
        return f'"{name}"' if " " in name or "-" in name else name

    def _prefix(self, rnd: random.Random) -> str:
        """A rare word's stem ("sanction*", "ukrain*"), six letters or more, that starts
        no common word."""
        stem = get_stemmer("en")
        while True:
            found = stem(rnd.choice(self.rare))
            i = bisect.bisect_left(self._common, found)
            if len(found) >= 6 and not (
                    i < len(self._common) and self._common[i].startswith(found)):
                return found

    def _phrase(self, rnd: random.Random) -> str:
        """Two or three words of real text with a rare word or a name's word in them."""
        rare, named = self._rare_set, self._name_words
        while True:
            sentence = rnd.choice(self.sentences)
            i = rnd.randrange(len(sentence) - 1)
            words = sentence[i : i + rnd.randint(2, 3)]
            if len(words) >= 2 and any(w.lower() in rare or w in named for w in words) \
                    and _is_content(words[0]) and _is_content(words[-1]):
                return '"' + " ".join(words) + '"'

    def __call__(self, rnd: random.Random) -> str:
        shape = rnd.random()
        name, rare = self._name, lambda: rnd.choice(self.rare)
        if shape < 0.30:
            return name(rnd)
        if shape < 0.45:
            return f"{name(rnd)} {name(rnd) if rnd.random() < 0.5 else rare()}"
        if shape < 0.55:
            return self._phrase(rnd)
        if shape < 0.67:
            return " OR ".join(name(rnd) for _ in range(rnd.randint(2, 4)))
        if shape < 0.75:
            return f"{name(rnd)} -{rare()}"
        if shape < 0.82:
            return f"{name(rnd)} NEAR/{rnd.randint(2, 10)} {rare()}"
        if shape < 0.88:
            prefix = self._prefix(rnd) + "*"
            return prefix if rnd.random() < 0.5 else f"{prefix} {name(rnd)}"
        if shape < 0.94:
            return f"title:{name(rnd)}"
        return f"lang:{rnd.choice(('en', 'en', 'de', 'fr'))} {name(rnd)}"


def rule_maker(kind: str, data: Path, heldout: bool,
               ) -> tuple[list[list[str]], Callable[[random.Random], str]]:
    """The bodies to measure on, and a function drawing one rule text."""
    if kind == "topical":
        paragraphs = load_paragraphs(data)
        words, sentences = vocabulary(paragraphs)
        return paragraphs, lambda rnd: make_rule(rnd, words, sentences)
    parts = split_bodies(data, DEV_DATA)
    return parts[3 if heldout else 2], EntityRules(parts[0] + parts[1])


def load_matcher(ref: str) -> types.ModuleType:
    """alerts/matcher.py and alerts/text.py as they were at git `ref`, as a module of
    their own (sharing the query AST), so old and new run in one process."""
    root = Path(__file__).resolve().parents[1]
    folder = Path(tempfile.mkdtemp()) / "old_alerts"
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    for name in ("matcher", "text"):
        source = subprocess.run(["git", "show", f"{ref}:alerts/{name}.py"], cwd=root,
                                check=True, capture_output=True, text=True).stdout
        source = source.replace("from alerts.text", "from old_alerts.text")
        (folder / f"{name}.py").write_text(source)
    sys.path.insert(0, str(folder.parent))
    return importlib.import_module("old_alerts.matcher")


def build(rules: dict[str, Query], sample: Document, kind: type = RuleSet) -> RuleSet:
    started, started_cpu = time.perf_counter(), time.process_time()
    ruleset = kind(rules)
    ruleset.match(sample)  # builds the index for the sample's language
    print(f"index of {len(rules):7,} rules built in {time.perf_counter() - started:.2f} s "
          f"({time.process_time() - started_cpu:.2f} s of CPU)")
    return ruleset


def _resident_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * 4096


def _memory_child(count: int, seed: int, data: Path, kind: str,
                  queue: multiprocessing.Queue) -> None:
    rnd = random.Random(seed)
    paragraphs, draw = rule_maker(kind, data, heldout=False)
    sample = make_articles(paragraphs, 1, rnd)[0]
    texts = [draw(rnd) for _ in range(count)]
    gc.collect()
    before = _resident_bytes()
    started, started_cpu = time.perf_counter(), time.process_time()
    ruleset = RuleSet({f"rule-{i}": parse_query(text) for i, text in enumerate(texts)})
    ruleset.match(sample)
    seconds, cpu = time.perf_counter() - started, time.process_time() - started_cpu
    gc.collect()
    queue.put((_resident_bytes() - before, seconds, cpu))


def measure_memory(count: int, seed: int, data: Path, kind: str) -> tuple[int, float, float]:
    """Resident memory a rule set of `count` rules adds (parsed queries, index and
    compiled programs for one language), and its build time from the rules' text."""
    queue: multiprocessing.Queue = multiprocessing.Queue()
    child = multiprocessing.Process(target=_memory_child, args=(count, seed, data, kind, queue))
    child.start()
    found = queue.get()
    child.join()
    return found


def _matcher_of(ruleset: RuleSet) -> Callable[[list[Document]], list[list]]:
    """The batch path the product uses (`match_many`, as a match cycle, `rules test`
    and a re-match do), or one document at a time for a commit that has none."""
    batch = getattr(ruleset, "match_many", None)
    return batch if batch is not None else (lambda part: [ruleset.match(a) for a in part])


def measure(rulesets: list[RuleSet], articles: list[Document],
            chunk: int = 200) -> list[tuple[float, float, int]]:
    """For each rule set: articles per wall-clock second, per CPU second, and matches.

    Articles go in batches of `chunk` (a match cycle reads 200). The rule sets take
    turns on the batches, so that a change in the machine's load (other processes)
    affects them alike; the CPU-time rate, which such load barely moves, is the one
    the requirement is checked on.
    """
    for article in articles:  # warm the word caches, so the first rule set pays no more
        rulesets[0].match(article)
    wall = [0.0] * len(rulesets)
    cpu = [0.0] * len(rulesets)
    matches = [0] * len(rulesets)
    for offset in range(0, len(articles), chunk):
        part = articles[offset : offset + chunk]
        for i, ruleset in enumerate(rulesets):
            match = _matcher_of(ruleset)
            started, started_cpu = time.perf_counter(), time.process_time()
            matches[i] += sum(map(len, match(part)))
            wall[i] += time.perf_counter() - started
            cpu[i] += time.process_time() - started_cpu
    return [(len(articles) / w, len(articles) / c, m)
            for w, c, m in zip(wall, cpu, matches, strict=True)]


def check_against_brute_force(rules: dict[str, Query], articles: list[Document]) -> float:
    """Brute-force articles/second; raises if any answer differs from the index."""
    ruleset = RuleSet(rules)
    started = time.perf_counter()
    expected = [match_every_rule(rules, article) for article in articles]
    rate = len(articles) / (time.perf_counter() - started)
    for article, answer in zip(articles, expected, strict=True):
        if ruleset.match(article) != answer:
            raise AssertionError(f"index and brute force disagree on {article.title!r}")
    if ruleset.match_many(articles) != expected:
        raise AssertionError("a batch and brute force disagree")
    return rate


def store_articles(sessions, count: int, paragraphs: list[list[str]],
                   rnd: random.Random) -> None:
    """Store `count` articles of the source named "bench", recombined from real
    paragraphs, first seen over the last 120 days (newest first)."""
    from sqlalchemy import insert, select

    from crawler.models import Article, Source, url_digest, utcnow

    now = utcnow()
    with sessions() as session:
        source_id = session.scalar(select(Source.id).where(Source.name == "bench"))
    for offset in range(0, count, 5_000):
        rows = []
        for i in range(offset, min(count, offset + 5_000)):
            own = list(paragraphs[i % len(paragraphs)])
            rnd.shuffle(own)
            body = "\n\n".join(own[: rnd.randint(3, 8)])
            url = f"http://bench.test/{i}"
            rows.append({
                "source_id": source_id, "url": url, "url_hash": url_digest(url),
                "title": " ".join(body.split()[:12]), "body": body, "authors": [],
                "language": "en", "content_hash": url_digest(body + url),
                "first_seen_at": now - timedelta(days=120 * i / count), "matched_at": now,
            })
        with sessions.begin() as session:
            session.execute(insert(Article), rows)


# Queries of common words, whose full-text prefilter lets many articles through.
COMMON_QUERIES = ('"the president"', "said")


def measure_backtest(count: int, paragraphs: list[list[str]], rnd: random.Random,
                     queries: list[str]) -> None:
    """Seconds `rules test` takes over `count` stored articles, for each query: its
    search as the command runs it (`backtest_stories`, the newest 50 stories), and
    every match (`find_matching` to the end)."""
    from alerts.backtest import backtest_stories, find_matching
    from crawler.database import make_engine, make_sessionmaker
    from crawler.models import Source, utcnow
    from scheduler.migrate import upgrade_database

    now = utcnow()
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{folder}/stored.db")
        upgrade_database(engine)
        sessions = make_sessionmaker(engine)
        with sessions.begin() as session:
            session.add(Source(name="bench", url="http://bench.test/feed"))
        started = time.perf_counter()
        store_articles(sessions, count, paragraphs, rnd)
        print(f"stored {count:,} articles in {time.perf_counter() - started:.0f} s")
        since = now - timedelta(days=90)
        for text in [*queries, *COMMON_QUERIES]:
            query = parse_query(text)
            with sessions() as session:
                started, started_cpu = time.perf_counter(), time.process_time()
                stories = len(backtest_stories(session, query, since, 50))
                seconds = time.perf_counter() - started
                cpu = time.process_time() - started_cpu
            with sessions() as session:
                started_all, started_all_cpu = time.perf_counter(), time.process_time()
                found = sum(1 for _ in find_matching(session, query, since))
                seconds_all = time.perf_counter() - started_all
                cpu_all = time.process_time() - started_all_cpu
            print(f"rules test {text!r} --since 90d: {stories} stories in {seconds:.2f} s "
                  f"({cpu:.2f} s of CPU); all {found:,} matches in {seconds_all:.2f} s "
                  f"({cpu_all:.2f} s of CPU)")
        engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--articles", type=int, default=ARTICLES)
    parser.add_argument("--max-rules", type=int, default=100_000,
                        help="the largest rule set measured (with 100 and 10,000)")
    parser.add_argument("--memory-rules", type=int, default=100_000,
                        help="rules whose memory is measured (0: skip; 1000000 for the goal)")
    parser.add_argument("--stored", type=int, default=0,
                        help="articles stored for timing `rules test --since 90d` (0: skip)")
    parser.add_argument("--rules", choices=("entities", "topical"), default="entities",
                        help="the rule mix (see above)")
    parser.add_argument("--heldout", action="store_true",
                        help="measure on the held-out quarter of the bodies (entities mix)")
    parser.add_argument("--compare", metavar="GIT_REF",
                        help="also measure the matcher of this commit (e.g. main), in turns "
                             "with the current one, and print the ratios")
    args = parser.parse_args()
    rnd = random.Random(args.seed)

    paragraphs, draw = rule_maker(args.rules, args.data, args.heldout)
    articles = make_articles(paragraphs, args.articles, rnd)
    largest = make_rules(max(10_000, args.max_rules), rnd, draw)
    counts = sorted({100, 10_000, args.max_rules})
    print(f"{len(articles)} articles from {len(paragraphs)} real bodies; "
          f"{args.rules} rules" + (" (held-out bodies)" if args.heldout else ""))

    rulesets = [build(dict(list(largest.items())[:count]), articles[0]) for count in counts]
    labels = [f"{count:7,} rules" for count in counts]
    if args.compare:
        old = load_matcher(args.compare)
        rulesets += [build(dict(list(largest.items())[:count]), articles[0], old.RuleSet)
                     for count in counts]
        labels += [f"{count:7,} rules ({args.compare})" for count in counts]
    results = measure(rulesets, articles)
    for label, (wall_rate, cpu_rate, matches) in zip(labels, results, strict=True):
        print(f"{label}: {wall_rate:7.1f} articles/s wall-clock, "
              f"{cpu_rate:7.1f} articles per CPU second "
              f"({matches / len(articles):.1f} matches per article)")
    if args.compare:
        for i, count in enumerate(counts):
            print(f"{count:7,} rules: {results[i][1] / results[i + len(counts)][1]:.2f}x "
                  f"the CPU rate of {args.compare}")
    (small_wall, small_rate, _), (big_wall, big_rate, _) = results[:2]
    ratio = big_rate / small_rate
    print(f"ratio 10000/100: {ratio:.2f} in CPU time, {big_wall / small_wall:.2f} wall-clock "
          f"(required >= {REQUIRED_RATIO})")

    big = dict(list(largest.items())[:10_000])
    brute_rate = check_against_brute_force(big, articles[:20])
    print(f"brute force, 10000 rules: {brute_rate:7.1f} articles/s wall-clock "
          f"(the index is {big_wall / brute_rate:.0f}x faster; same answers on 20 articles)")
    if args.stored:
        queries = random.Random(args.seed + 1)  # the same rules whatever else is asked
        backtests = [draw(queries) for _ in range(6)]
        measure_backtest(args.stored, paragraphs, queries, backtests)
    if args.memory_rules:
        memory, seconds, cpu = measure_memory(args.memory_rules, args.seed, args.data,
                                              args.rules)
        print(f"memory of {args.memory_rules:,} rules: {memory / 2**20:.0f} MiB resident "
              f"(parsed, indexed, compiled; built from text in {seconds:.1f} s, "
              f"{cpu:.1f} s of CPU)")
    return 0 if ratio >= REQUIRED_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())

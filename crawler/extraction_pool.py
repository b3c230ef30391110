"""Article extraction in worker processes, so that a crawl uses every core.

Extraction is pure CPU work (lxml, trafilatura, htmldate): run on the reactor thread it
held every download, and run on threads it would hold the GIL. The crawl child therefore
hands each page to a `ProcessPoolExecutor` and awaits the result as a Deferred; the
reactor only moves bytes. The worker also computes the body's near-duplicate fingerprint
(`extract_page`), which the store's writer thread would otherwise compute under the GIL.

The workers are forked from the crawl child once it has warmed extraction up (the first
page costs most of a second: htmldate and dateparser compile their patterns), before the
reactor and its threads start, so every worker starts warm and no lock can be held by a
thread that does not exist in the fork.

A worker that dies (a page that crashes lxml, the kernel's out-of-memory killer) breaks
the whole executor: every page in flight fails with `BrokenProcessPool`. The pool is
then replaced by a fresh one and each of those pages is extracted once more; a page that
breaks the fresh pool as well is reported as `ExtractionCrashed`, for the spider to try
again at a later crawl (crawler/ledger.py).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import multiprocessing
import os
import signal
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from twisted.internet.defer import Deferred

from crawler.dedup import Fingerprint, fingerprint
from crawler.extract import ExtractedArticle, extract_article

logger = logging.getLogger(__name__)

# Enough for every date and language path to compile what it compiles lazily.
_WARM_UP_PAGE = """<html lang="en"><head><title>Harbour bridge reopens after repairs</title>
</head><body><article><h1>Harbour bridge reopens after repairs</h1>
<p class="byline">By Ana Lima, 18 June 2024</p>
<p>The harbour bridge reopened to traffic on Tuesday morning after eight months of repairs
that cost the city council more than it had planned, officials said at a press briefing.</p>
<p>Commuters who had spent the winter on ferries and buses welcomed the news, although the
council warned that one lane would stay closed for another fortnight.</p></article>
</body></html>"""


_PR_SET_PDEATHSIG = 1
# A worker hands the memory its pages freed back to the system every this many pages.
TRIM_EVERY = 10
# Tries at starting the workers before extraction falls back to the crawl process.
_STARTS = 3


class ExtractionCrashed(Exception):
    """The page's extraction killed its worker process twice."""


@dataclass(frozen=True)
class ExtractedPage:
    """A page's article, and its body's fingerprint for story assignment (None without a
    body): what a worker sends back."""

    article: ExtractedArticle
    fingerprint: Fingerprint | None


def extract_page(markup: str | bytes, url: str) -> ExtractedPage:
    """`extract_article`, and the fingerprint `crawler.stories.story_for` would compute
    for the article's body, its signature included."""
    article = extract_article(markup, url)
    if article.error or not article.body:
        return ExtractedPage(article, None)
    mine = fingerprint(article.body)
    _ = mine.signature  # a cached property: computed here, sent along, never in the writer
    return ExtractedPage(article, mine)


def default_workers() -> int:
    """One worker per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _start_worker() -> None:
    """Ctrl-C is the crawl's to handle (it finishes the pages in flight, which needs the
    workers); a worker must not outlive its crawl, however the crawl ends; and it finds
    glibc's malloc_trim, if any (`_Worker`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Not on Linux, the daemon's kill of the crawl's process group still takes them.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    _find_trim()


def _find_trim() -> None:
    with contextlib.suppress(OSError, AttributeError):  # glibc only
        _Worker.trim = ctypes.CDLL(None).malloc_trim


class _Worker:
    """What a process extracting pages keeps between them (a worker, or a crawl without
    workers): a page count, and glibc's malloc_trim (None elsewhere). lxml's trees are
    freed into the C heap, which keeps the pages resident; trimmed every `TRIM_EVERY`
    pages (about 1 ms a call), a worker of the bench holds about 18 MB less after a few
    hundred pages."""

    pages = 0
    trim: Callable[[int], int] | None = None


def extract_and_trim(markup: str | bytes, url: str) -> ExtractedPage:
    """`extract_page`, then every `TRIM_EVERY` pages the memory they freed handed back to
    the system (once `start_pool` or a worker found malloc_trim)."""
    page = extract_page(markup, url)
    _Worker.pages += 1
    if _Worker.trim is not None and _Worker.pages % TRIM_EVERY == 0:
        _Worker.trim(0)
    return page


def warm_up() -> None:
    extract_article(_WARM_UP_PAGE, "https://news.example.org/2024/06/18/harbour-bridge/")


class ExtractionPool:
    """`extract(markup, url)` -> Deferred firing with the ExtractedPage."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.generation = 0
        # None once no pool could be started again: pages are extracted in this process.
        self.executor: ProcessPoolExecutor | None = self._new_executor()

    def _new_executor(self) -> ProcessPoolExecutor:
        # The objects alive now (modules, the language model...) are never collected:
        # kept out of the garbage collector's sight, they stay shared with the workers
        # instead of being copied into each as the collector touches them.
        gc.freeze()
        for attempt in range(1, _STARTS + 1):
            # "fork": workers inherit the warm, already-imported extraction code.
            executor = ProcessPoolExecutor(
                self.workers, mp_context=multiprocessing.get_context("fork"),
                initializer=_start_worker)
            try:
                # With fork, the first submit starts every worker at once: do it now,
                # while no other thread runs.
                executor.submit(os.getpid).result()
                return executor
            except BrokenProcessPool:
                executor.shutdown(wait=False)
                if attempt == _STARTS:
                    raise
        raise AssertionError("unreachable")

    def extract(self, markup: str | bytes, url: str) -> Deferred[ExtractedPage]:
        result: Deferred[ExtractedPage] = Deferred()

        def submit(retried: bool) -> None:
            generation = self.generation
            if self.executor is None:
                try:
                    result.callback(extract_page(markup, url))
                except Exception as error:  # the page's own error, as from a worker
                    result.errback(error)
                return
            from twisted.internet import reactor  # the one Scrapy installed

            try:
                future = self.executor.submit(extract_and_trim, markup, url)
            except BrokenProcessPool:
                reactor.callLater(0, crashed, generation, retried)
                return
            future.add_done_callback(
                lambda done: reactor.callFromThread(finished, done, generation, retried))

        def finished(done: Future[ExtractedPage], generation: int, retried: bool) -> None:
            error = done.exception()
            if isinstance(error, BrokenProcessPool):
                crashed(generation, retried)
            elif error is not None:
                result.errback(error)
            else:
                result.callback(done.result())

        def crashed(generation: int, retried: bool) -> None:
            try:
                self._replace(generation)
            except Exception as error:  # every page's Deferred must fire, or the crawl hangs
                result.errback(error)
                return
            if retried:
                result.errback(ExtractionCrashed(f"extraction crashed its worker twice: {url}"))
            else:
                submit(retried=True)

        submit(retried=False)
        return result

    def _replace(self, broken_generation: int) -> None:
        """Replace the executor, once per breakage however many pages it took down."""
        if broken_generation != self.generation:
            return
        logger.warning("an extraction worker died; starting a new pool of %d", self.workers)
        if self.executor is not None:
            self.executor.shutdown(wait=False, cancel_futures=True)
        self.generation += 1
        self.executor = None
        try:
            self.executor = self._new_executor()
        except (BrokenProcessPool, OSError) as error:
            logger.warning("could not start extraction workers again (%s); extracting in "
                           "the crawl process from now on", error)

    def close(self) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)


def start_pool(workers: int | None) -> ExtractionPool | None:
    """Warm extraction up, then fork `workers` extraction processes (default: one per
    core). None when extraction is to run in this process (0 workers)."""
    count = default_workers() if workers is None else workers
    warm_up()
    if count <= 0:
        _find_trim()
        return None
    try:
        return ExtractionPool(count)
    except (BrokenProcessPool, OSError) as error:
        logger.warning("could not start extraction workers (%s); extracting in the crawl "
                       "process", error)
        return None

"""Running a crawl in a child process with a hard time limit (used by the daemon)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from dataclasses import dataclass, field

from crawler.job import CrawlJob

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CrawlOutcome:
    ok: bool
    summary: dict[str, object] = field(default_factory=dict)
    error: str | None = None
    # Stopped because the daemon is shutting down: not the sources' fault.
    interrupted: bool = False


def run_crawl(job: CrawlJob, time_limit: float) -> CrawlOutcome:
    """Crawl `job` in a child process; kill it if it runs longer than `time_limit` seconds.

    The child's log goes straight to our stderr; its last stdout line is the summary.
    """
    try:
        completed = subprocess.run(
            [sys.executable, "-m", "crawler.run"],
            input=job.to_json(),
            stdout=subprocess.PIPE,
            text=True,
            timeout=time_limit,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return CrawlOutcome(ok=False, error=f"crawl killed after {time_limit:.0f}s time limit")
    if completed.returncode != 0:
        return CrawlOutcome(ok=False, error=f"crawl process exited with {completed.returncode}")
    lines = completed.stdout.strip().splitlines()
    try:
        summary = json.loads(lines[-1]) if lines else {}
    except json.JSONDecodeError:
        summary = {}
    return CrawlOutcome(ok=True, summary=summary)

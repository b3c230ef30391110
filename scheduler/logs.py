"""Logging to stderr, one line per event with a level: plain text, or JSON for log shippers.

Every record, whichever library logged it (Apprise at debug level quotes whole URLs,
urllib3 request paths), passes a filter on the handler that masks the config's secrets:
the values of its `${VAR}` references and the parts of each Apprise URL that Apprise's
privacy form hides. Commands register them as they load the config (`mask_in_logs`).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Literal

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
DATE_FORMAT = "%Y-%m-%dT%H:%M:%S%z"
LogFormat = Literal["text", "json"]


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, and the
    traceback as `exception` when there is one. Newlines stay inside the JSON string, so
    a multi-line message is still one line of output."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        if record.exc_text or record.exc_info:
            entry["exception"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


MASK = "****"
_URL_PART_SEPARATORS = re.compile(r"[/:@?&=#,;]+")
# URL parts that no service keeps secret: their mention in a text (a source's error naming
# 127.0.0.1) needs no Apprise (a second of imports) to decide what to mask.
_NEVER_SECRET = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}|localhost|https?|json|xml|form|mailtos?")


class SecretsFilter(logging.Filter):
    """Masks registered secrets in a record's message and traceback (never drops one)."""

    def __init__(self) -> None:
        super().__init__()
        self._values: list[str] = []
        self._urls: dict[str, frozenset[str]] = {}  # URL -> its parts, a cheap pre-check
        self._lock = threading.Lock()
        self._busy = threading.local()

    def add(self, values: Iterable[str] = (), urls: Iterable[str] = ()) -> None:
        with self._lock:
            known = set(self._values) | {value for value in values if len(value) >= 3}
            self._values = sorted(known, key=len, reverse=True)
            for url in urls:
                parts = {part for part in _URL_PART_SEPARATORS.split(url)
                         if len(part) >= 3 and not _NEVER_SECRET.fullmatch(part)}
                self._urls.setdefault(url, frozenset(parts))

    def forget(self) -> None:
        """Mask nothing from now on (a process that loads another configuration)."""
        with self._lock:
            self._values, self._urls = [], {}

    def mask(self, text: str) -> str:
        with self._lock:
            values, urls = self._values, dict(self._urls)
        for url, parts in urls.items():
            if any(part in text for part in parts):
                text = _scrub(text, url)
        for value in values:
            text = text.replace(value, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        nested = getattr(self._busy, "active", False)  # logged while masking a record
        mask = self._mask_every_url_part if nested else self.mask
        self._busy.active = True
        try:
            message = record.getMessage()
            masked = mask(message)
            if masked != message:
                record.msg, record.args = masked, None
            if record.exc_info and not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            if record.exc_text:
                record.exc_text = mask(record.exc_text)
        finally:
            self._busy.active = nested
        return True

    def _mask_every_url_part(self, text: str) -> str:
        """Without Apprise's help (it is the one logging): every part but the scheme."""
        with self._lock:
            values = list(self._values)
            for url, parts in self._urls.items():
                scheme = url.partition("://")[0]
                values += [part for part in parts if part != scheme]
        for value in sorted(values, key=len, reverse=True):
            text = text.replace(value, MASK)
        return text


def _scrub(text: str, url: str) -> str:
    from alerts.apprise_urls import scrub  # imports Apprise: only once a URL's part is logged

    return scrub(text, url)


SECRETS = SecretsFilter()


def mask_in_logs(values: Iterable[str] = (), urls: Iterable[str] = ()) -> None:
    """From now on, mask `values` and the secret parts of Apprise `urls` in every log line
    (and in what `mask_secrets` is given)."""
    SECRETS.add(values, urls)


def mask_secrets(text: str | None) -> str | None:
    """`text` (a stored error, a URL a crawl found) with every registered secret masked,
    for output: a crawl may have recorded it from the expanded URL."""
    return None if text is None else SECRETS.mask(text)


def make_formatter(log_format: LogFormat = "text") -> logging.Formatter:
    if log_format == "json":
        return JsonFormatter()
    return logging.Formatter(FORMAT, datefmt=DATE_FORMAT)


# Loggers that speak for newswatch: its packages, and a crawl child's relayed lines from
# them ("crawl.crawler...") or not in a log format at all ("crawl": a child's crash).
OWN_LOGGERS = ("crawler", "alerts", "scheduler", "newswatch", "crawl.crawler", "__main__")


def is_own_logger(name: str) -> bool:
    return name == "crawl" or any(name == own or name.startswith(f"{own}.")
                                  for own in OWN_LOGGERS)


class OwnWordsFilter(logging.Filter):
    """Below debug level, only newswatch's own one-line messages: Scrapy, Twisted, Apprise,
    Alembic and the other libraries' records (settings dumps, "Context impl", retried
    requests with their tracebacks) are left out, since newswatch reports each outcome
    that matters once, in its own words. `--log-level debug` shows them all."""

    def filter(self, record: logging.LogRecord) -> bool:
        return is_own_logger(record.name)


def setup_logging(level: str = "INFO", log_format: LogFormat = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(make_formatter(log_format))
    if level.upper() != "DEBUG":
        handler.addFilter(OwnWordsFilter())
    handler.addFilter(SECRETS)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("apscheduler.executors", "apscheduler.scheduler"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))

"""Turning a failed download into a short status and a reason a user can act on."""

from __future__ import annotations

import re

from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
    StopDownload,
)
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet import error as twisted_errors
from twisted.python.failure import Failure

from crawler.middlewares.guard import RefusedRequest

_TLS_REASONS = (
    (re.compile(r"VerificationError|Mismatch"), "the certificate is not for this host"),
    (re.compile(r"certificate verify failed"), "certificate verify failed"),
    (re.compile(r"SSL|TLS|certificate", re.IGNORECASE), "handshake failed"),
)


def describe_failure(failure: Failure) -> tuple[str, str]:
    """(status, reason): e.g. ("http error", "HTTP 500"), ("timeout", "timed out ...")."""
    value = failure.value
    if isinstance(value, HttpError):
        return "http error", f"HTTP {value.response.status}"
    if isinstance(value, RefusedRequest):
        return "refused", str(value)
    if isinstance(value, IgnoreRequest):
        message = str(value)
        if "robots.txt" in message:
            return "robots.txt", "robots.txt forbids it"
        if "max redirections" in message:
            return "too many redirects", "too many redirects"
        if "decompress" in message.lower():
            return "too large", "refused: larger than the size limit once decompressed"
        return "ignored", message or "request ignored"
    if isinstance(value, StopDownload):
        return "not html", "not an HTML page"
    if isinstance(value, CannotResolveHostError | twisted_errors.DNSLookupError):
        message = str(value).strip().rstrip(".")
        if not message.startswith("DNS lookup failed"):
            message = f"DNS lookup failed: {message}".rstrip(": ")
        return "dns error", message
    if isinstance(value, DownloadTimeoutError | twisted_errors.TimeoutError):
        return "timeout", "timed out"
    if isinstance(value, DownloadCancelledError):
        # Scrapy's HTTP handler cancels a download for one reason only: DOWNLOAD_MAXSIZE,
        # announced by Content-Length or reached while streaming.
        return "too large", "refused: response larger than the size limit"
    if isinstance(value, DownloadConnectionRefusedError | twisted_errors.ConnectionRefusedError):
        return "connection refused", "connection refused"
    if isinstance(value, ResponseDataLossError):
        return "incomplete", "the connection closed before the whole response arrived"
    message = str(value).strip()
    if isinstance(value, DownloadFailedError):
        for pattern, reason in _TLS_REASONS:
            if pattern.search(message):
                return "tls error", f"TLS error: {reason}"
    name = type(value).__name__
    return "error", f"{name}: {message}" if message else name


TRANSIENT, MISSING, BLOCKED, REFUSED = "transient", "missing", "blocked", "refused"
_MISSING_STATUSES = (404, 410)


def page_failure_kind(failure: Failure) -> str:
    """What a failed article page means for the entry: `TRANSIENT` (a 5xx, 429, timeout,
    refused connection...: try again later), `MISSING` (404/410: the page may not be live
    yet), `BLOCKED` (refused for good: 401/402/403/451, robots.txt, not HTML, too large)
    or `REFUSED` (the address guard's: never fetched)."""
    value = failure.value
    if isinstance(value, RefusedRequest):
        return REFUSED
    if isinstance(value, HttpError):
        status = value.response.status
        if status in _MISSING_STATUSES:
            return MISSING
        if status >= 500 or status in (408, 425, 429):
            return TRANSIENT
        return BLOCKED
    if isinstance(value, IgnoreRequest | StopDownload | DownloadCancelledError):
        return BLOCKED
    return TRANSIENT

"""Apprise URLs without sending: is a URL usable, and its forms safe to show or log.

Apart from the delivery machinery (alerts.delivery) so that the commands that check or
show a URL (config check, channels add, init) and the log filter do not load SQLAlchemy
and the models as well as Apprise."""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from types import ModuleType
from urllib.parse import unquote


@lru_cache(maxsize=1)
def load_apprise() -> ModuleType:
    """Apprise, imported on first use: loading its plugins takes about a second, which
    every command that never sends (search, status, rules ...) would otherwise pay."""
    import apprise

    import alerts.log_channel  # noqa: F401  (registers the log:// scheme with Apprise)

    # Apprise logs the cause of a failure ("Socket Exception: [Errno 111] Connection
    # refused") at debug level only: let its records be made, so that each result's
    # captured log holds it. Below debug level our handler leaves Apprise's lines out.
    logging.getLogger("apprise").setLevel(logging.DEBUG)

    return apprise


@lru_cache(maxsize=512)
def privacy_url(url: str) -> str:
    instance = load_apprise().Apprise.instantiate(url, suppress_exceptions=True)
    if instance is None:
        scheme = url.split("://", 1)[0]
        return f"{scheme}://..."
    return instance.url(privacy=True)


def url_problem(url: str) -> str | None:
    """Why Apprise cannot use `url`, in Apprise's own words (e.g. "Invalid ~From~ email
    specified"), secrets masked; None when it can. Its log lines are captured here rather
    than printed, so the user reads the reason once, in newswatch's message."""
    apprise = load_apprise()
    with apprise.LogCapture(level=logging.WARNING, fmt="%(levelname)s|%(message)s") as log:
        usable = apprise.Apprise.instantiate(url, suppress_exceptions=True) is not None
    if usable:
        return None
    lines = [line.partition("|") for line in log.getvalue().splitlines()]
    warnings = [text.strip(" :") for level, _, text in lines if level == "WARNING"]
    errors = [text.strip(" :") for level, _, text in lines if level != "WARNING"]
    reasons = [reason for reason in dict.fromkeys(warnings or errors) if reason]
    return scrub("; ".join(reasons), url) if reasons else "not a URL Apprise knows"


def redact(url: str) -> str:
    """The URL for logs, error messages and `alerts list`: Apprise's privacy form
    (passwords and tokens it knows masked), without the query and without the path,
    since generic webhooks (json://, ntfy topics) carry their tokens in the path."""
    private = privacy_url(url).split("?", 1)[0]
    scheme, separator, rest = private.partition("://")
    host, _, path = rest.partition("/")
    return f"{scheme}{separator}{host}/…" if path.strip("/") else private


def hidden_parts(url: str) -> set[str]:
    """The parts of `url` (of 3 characters or more) that Apprise's privacy form hides:
    its passwords and tokens, and the path and query of generic webhooks."""
    shown = unquote(redact(url))
    parts = {part for raw in re.split(r"[/:@?&=#,;]+", url) for part in (raw, unquote(raw))}
    return {part for part in parts if len(part) >= 3 and part not in shown}


def scrub(text: str, url: str) -> str:
    """`text` with every part of `url` that Apprise's privacy form hides replaced by ****,
    in case a service's error message quotes a password or token."""
    for secret in sorted(hidden_parts(url), key=len, reverse=True):
        text = text.replace(secret, "****")
    return text

"""A `log://` Apprise URL: alerts written to newswatch's log, for a channel not set up yet."""

from __future__ import annotations

import logging
from typing import Any

from apprise.decorators import notify

logger = logging.getLogger("newswatch.alert")


@notify(on="log", name="newswatch log")
def log_alert(body: str, title: str, notify_type: str, *args: Any, **kwargs: Any) -> bool:
    logger.info("ALERT %s\n%s", title, body)
    return True

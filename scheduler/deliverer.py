"""The daemon's delivery worker: a thread of its own that sends the outbox, so a channel
that hangs never delays crawl starts, matching or housekeeping.

It is woken by the `deliver` job and whenever matching or the operator check has queued
something; a wake while a round runs makes one more round after it. Each message is
claimed before it is sent (`alerts.claims`), so a `run --once` or a second sender next
to it never sends the same message. When the daemon stops, the round ends after the
message being sent; what is left stays pending for the next start. An error in a round
is logged and the worker goes on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from alerts.delivery import DeliveryReport

logger = logging.getLogger(__name__)

Deliver = Callable[[Callable[[], bool]], DeliveryReport]  # takes "should I stop now?"


class DeliveryWorker:
    def __init__(self, deliver: Deliver, stopping: threading.Event,
                 on_failed: Callable[[], None]) -> None:
        self._deliver = deliver
        self._stopping = stopping
        self._on_failed = on_failed
        self._wanted = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="delivery", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        """Ask for a delivery round (one more, if a round is running)."""
        self._wanted.set()

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def join(self, timeout: float) -> None:
        if self._thread.ident is None:
            return  # never started (a scheduler of a cluster delivers nothing)
        self._wanted.set()  # so an idle worker sees the stop at once
        self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stopping.is_set():
            if not self._wanted.wait(0.5) or self._stopping.is_set():
                continue
            self._wanted.clear()
            self._round()

    def _round(self) -> None:
        try:
            report = self._deliver(self._stopping.is_set)
        except Exception:
            logger.exception("delivery failed; the daemon goes on")
            return
        if report.sent or report.retrying or report.failed:
            logger.info("delivery: %d sent, %d to retry, %d failed", report.sent,
                        report.retrying, report.failed)
        if report.failed:
            self._on_failed()

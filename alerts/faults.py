"""A test-only hook that kills the process at a named point of delivery.

With NEWSWATCH_TEST_CRASH_AT=before_send the process dies (SIGKILL, as the OOM killer
or a power cut would) after its alerts are in the outbox and before the first is sent;
with after_send, right after a URL accepted a message and before that is committed.
The tests use it to prove that a restart loses nothing and repeats at most the one
message in flight. Unset, it does nothing.
"""

from __future__ import annotations

import os
import signal
import sys

CRASH_ENV = "NEWSWATCH_TEST_CRASH_AT"
POINTS = ("before_send", "after_send")


def crash_point(name: str) -> None:
    if os.environ.get(CRASH_ENV) == name:
        sys.stderr.write(f"newswatch: {CRASH_ENV}={name}: killing the process\n")
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGKILL)

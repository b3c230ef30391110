"""Handing the heap memory a long-lived process has freed back to the system.

glibc's malloc keeps freed memory in its arenas (one per thread that allocates, up to
eight per core) for reuse, and returns it only from the top of each heap: after a
matching cycle has analysed a thousand articles and built a rule index per language,
the daemon stayed hundreds of MB larger than what it still used. `malloc_trim(0)` gives
back every free page of every arena (about a millisecond); elsewhere than glibc there is
nothing to call and nothing is done.
"""

from __future__ import annotations

import contextlib
import ctypes
from collections.abc import Callable
from functools import cache


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    with contextlib.suppress(OSError, AttributeError):
        return ctypes.CDLL(None).malloc_trim
    return None


def release_freed_memory() -> None:
    """Return the heap's free pages to the system (glibc); a no-op elsewhere."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)

"""Give the memory of a burst of work back to the operating system.

A burst of reconciles (a thousand SLOs applied at once, a re-listing after the API server restarted)
parses and renders tens of kilobytes per SLO in every worker thread. Almost none of it is kept, but
glibc's allocator keeps the freed pages: its heaps only shrink from the top, and each thread's arena
keeps its own high-water mark. ``malloc_trim(0)`` walks every arena and returns the free pages to the
kernel, so resident memory falls back towards what the operator really holds.

``Trimmer`` runs it from a background task some seconds after work stopped, not during a burst (it
takes the arenas' locks) and not when nothing happened.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


def _libc_trim() -> Callable[[], int] | None:
    """glibc's ``malloc_trim`` (None on another C library, e.g. musl, which has no such call)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return lambda: int(trim(0))


def freeze_start_up() -> None:
    """Move everything alive after start-up (imported modules, kopf's registries, the schema models)
    out of the garbage collector's sight.

    These objects live as long as the process; yet every full collection walked them all again,
    and a burst of reconciles, whose parsed objects survive young collections, triggers full ones.
    Frozen objects are never collected; nothing in them is garbage to begin with.
    """
    gc.collect()
    gc.freeze()


class Trimmer:
    """Trims once work has been quiet for ``quiet`` seconds after the last ``touch()``."""

    def __init__(self, quiet: float = 5.0, trim: Callable[[], int] | None = None) -> None:
        self.quiet = quiet
        self._trim = trim if trim is not None else _libc_trim()
        self._last_work = 0.0  # monotonic time of the last touch
        self._trimmed = True  # nothing to give back before the first work
        self.trims = 0

    def touch(self) -> None:
        """Work happened (called from any thread: two plain assignments)."""
        self._last_work = time.monotonic()
        self._trimmed = False

    def due(self, now: float) -> bool:
        return self._trim is not None and not self._trimmed and now - self._last_work >= self.quiet

    def trim_if_due(self) -> bool:
        if not self.due(time.monotonic()):
            return False
        self._trimmed = True
        assert self._trim is not None
        self._trim()
        self.trims += 1
        return True

    async def run(self) -> None:
        """Check every ``quiet / 2`` seconds; the trim itself runs in a worker thread."""
        while True:
            await asyncio.sleep(self.quiet / 2)
            if self.due(time.monotonic()):
                await asyncio.to_thread(self.trim_if_due)

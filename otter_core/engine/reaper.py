"""Loaded batches freed on a thread of their own, after the next batch's load has started.

A batch of a few thousand transactions is tens of thousands of objects (events, their key and column
dicts, the items, the merged lists and the plan). Freed by reference counting on the load thread, they
took ~10 ms per batch of an OLTP catch-up (0.6 CPU s and 0.77 s of wall time in a 140k-transaction
sysbench backlog) between one load and the next, while the target had nothing of otter's to do. The
load thread hands them here instead and starts the next load at once. The reaper waits
``DELAY_SECONDS`` first, so the next load's statements are built and sent before the freeing takes the
GIL, then frees them and only then calls ``freed`` (the runner leaves the memory window there: the
window counts a batch until its memory is really free). At most one batch waits: a load thread faster
than the freeing waits in ``put``.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("otter.engine")
DELAY_SECONDS = 0.002
_STOP = object()


class BatchReaper:
    """``put(refs, freed)`` hands over the last references to a loaded batch's objects; ``close()`` frees
    what is left and ends the thread."""

    def __init__(self, name: str) -> None:
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=1)
        self._thread = threading.Thread(target=self._run, name=f"reaper-{name}", daemon=True)
        self._thread.start()

    def put(self, refs: list[Any], freed: Callable[[], None]) -> None:
        """Take over ``refs`` (the caller keeps no other reference), free them soon, then call ``freed``."""
        self._queue.put((refs, freed))

    def close(self, timeout: float = 10.0) -> None:
        self._queue.put(_STOP)
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            work = self._queue.get()
            if work is _STOP:
                return
            refs, freed = work
            del work
            try:
                time.sleep(DELAY_SECONDS)
                refs.clear()
                freed()
            except Exception:  # the thread goes on: a reaper that ended would leave ``put`` blocked
                log.exception("freeing a loaded batch failed")

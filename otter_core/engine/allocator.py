"""Process tuning for a pipeline: big buffers back to the OS (glibc), and a garbage collector that runs less.

Big buffers.
glibc serves allocations above ``M_MMAP_THRESHOLD`` with mmap and unmaps them when freed, but it raises
that threshold to the size of every mmapped block freed (up to 32 MB): after the first 16 MB BLOB, later
16 MB buffers come from the heap arenas, one per thread, whose freed memory is kept. Replicating
16 MB BLOB rows then grew the selector process to ~500 MB. Fixing the threshold at 1 MB (which also turns
the dynamic adjustment off) keeps every big buffer mmapped. Small objects are unaffected (pymalloc).

Garbage collection. Events are dicts and tuples freed by reference counting, but every container
allocated counts towards a collection (the count is allocations minus frees), and with batches in flight
a collection walks every live object allocated since the last one: with the default thresholds
(700, 10, 10) the collector took more than half of the time of building update events (0.94 us vs
2.32 us per row with 300k live objects). The gen-0 threshold is above the container objects of the
batches a full memory window holds (an OLTP catch-up: a few hundred thousand), so the count climbs
while a window fills and falls again as its batches are loaded and freed: in steady state a collection
hardly ever runs. At 50 000 one ran every ~50k allocations and walked the window's live objects each
time: 0.14-0.31 s of the runner's CPU in a 140k-transaction sysbench catch-up, none at 500 000.
``gc.freeze()`` of what exists after start-up (imports, config) keeps those out of every collection. The
few reference cycles (mysql-replication's event <-> packet, broken by the selector; an exception's
traceback) still count towards the threshold and are collected.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging

log = logging.getLogger("otter.engine")
GC_THRESHOLDS = (500_000, 20, 100)
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 1 << 20
_done = False


def return_big_buffers_to_the_os() -> bool:
    """Call once per process (idempotent); False where the C library is not glibc."""
    global _done
    if _done:
        return True
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    _done = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
    if not _done:
        log.debug("mallopt(M_MMAP_THRESHOLD) refused: big buffers may stay in the heap after use")
    return _done


def tune_process() -> None:
    """Both tunings, for the runner and the selector process (idempotent)."""
    if gc.get_threshold() != GC_THRESHOLDS:
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)
    return_big_buffers_to_the_os()

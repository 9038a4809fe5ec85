"""Make freed big buffers go back to the operating system (glibc), so big rows do not inflate RSS for good.

glibc serves allocations above ``M_MMAP_THRESHOLD`` with mmap and unmaps them when freed, but it raises
that threshold to the size of every mmapped block freed (up to 32 MB): after the first 16 MB BLOB, later
16 MB buffers come from the heap arenas, one per thread, whose freed memory is kept. Replicating
16 MB BLOB rows then grew the selector process to ~500 MB. Fixing the threshold at 1 MB (which also turns
the dynamic adjustment off) keeps every big buffer mmapped. Small objects are unaffected (pymalloc).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger("otter.engine")
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

"""The in-flight window: at most ``parallelism`` batches and ``memory_limit_bytes`` bytes at once."""

from __future__ import annotations

import threading

# A batch's size is its binlog bytes; decoded (Python objects) it takes about as much again, and while
# its SQL is built (hex literals of binary values) about three times that, so the window admits binlog
# bytes up to a third of the memory limit (measured with 16 MB BLOB rows: bench/blob.py).
MEMORY_PER_BINLOG_BYTE = 3


class Window:
    """Admission control for batches between Select and Load (a global memory guard included).

    One batch is always admitted when the window is empty, however big, so progress never stalls.
    The rest of the guard: Select cuts batches at a quarter of the limit whatever ``batch_bytes`` says
    (``select.Batcher``), the selector process holds at most an eighth of it (its queue) plus one pipe
    chunk, and a loader sends rows with big values one at a time (``otter_mysql.bigrows``).
    """

    def __init__(self, slots: int, max_bytes: int) -> None:
        self.slots = max(1, slots)
        self.max_bytes = max(1, max_bytes // MEMORY_PER_BINLOG_BYTE)
        self._count = 0
        self._bytes = 0
        self._cond = threading.Condition()

    def has_room(self) -> bool:
        with self._cond:
            return self._count < self.slots and self._bytes < self.max_bytes

    def wait_for_room(self, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(
                lambda: self._count < self.slots and self._bytes < self.max_bytes, timeout
            )

    def enter(self, size: int) -> None:
        with self._cond:
            self._count += 1
            self._bytes += size

    def leave(self, size: int) -> None:
        with self._cond:
            self._count -= 1
            self._bytes -= size
            self._cond.notify_all()

    @property
    def in_flight(self) -> int:
        return self._count

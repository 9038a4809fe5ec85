"""A queue of whole transactions between the reader thread and ``poll``, bounded by count and bytes.

The compiled binlog loop assembles many transactions per call: it ``hold``s the queue meanwhile and
``release``s them under one lock and one wake-up of the consumer (a lock, a notify and a GIL hand-over
per transaction were ~10 % of the selector process's CPU on an OLTP backlog)."""

from __future__ import annotations

import threading
from collections import deque

from otter_core.spi import Transaction

_NO_LIMIT = 1 << 62  # bytes: ``get`` takes one transaction whatever its size


class TxQueue:
    """``put`` blocks while the queue is full (a transaction bigger than ``max_bytes`` is still
    accepted when the queue is empty: transactions are never split). Consecutive empty transactions
    (position-only) coalesce into the latest one. ``fail`` hands an exception to the consumer."""

    def __init__(self, max_items: int, max_bytes: int) -> None:
        self.max_items = max_items
        self.max_bytes = max_bytes
        self._items: deque[Transaction] = deque()
        self._bytes = 0
        self._cond = threading.Condition()
        self._closed = False
        self._interrupted = False
        self._held: list[Transaction] | None = None
        self.error: BaseException | None = None

    def put(self, tx: Transaction) -> None:
        if self._held is not None:
            self._held.append(tx)
            return
        with self._cond:
            self._append(tx)
            self._cond.notify_all()

    def hold(self) -> None:
        """Keep what ``put`` gets (in the putting thread) until ``release``."""
        if self._held is None:
            self._held = []

    def release(self) -> None:
        """Queue what was held, in order (blocking while full, as ``put``); call it also on an error:
        the reader's position has moved past these transactions."""
        held, self._held = self._held, None
        if held:
            with self._cond:
                for tx in held:
                    self._append(tx)
                self._cond.notify_all()

    def _append(self, tx: Transaction) -> None:
        items = self._items
        if _empty(tx) and items and _empty(items[-1]):
            items[-1] = tx
            return
        while (
            not self._closed
            and items
            and (len(items) >= self.max_items or self._bytes + tx.size > self.max_bytes)
        ):
            self._cond.notify_all()  # what was appended so far is the consumer's
            self._cond.wait(0.5)
        if self._closed:
            return
        items.append(tx)
        self._bytes += tx.size

    def get(self, timeout: float) -> Transaction | None:
        """The oldest transaction; None after ``timeout`` or an ``interrupt``; raises the reader's error
        once drained."""
        taken = self._take(timeout, _NO_LIMIT, one=True)
        return taken[0] if taken else None

    def get_all(self, timeout: float, max_bytes: int) -> list[Transaction]:
        """The queued transactions, oldest first, up to the one that brings their sizes to ``max_bytes``
        (what is taken is out of the queue's bound: taking all of a queue of 16 MB rows would let the
        reader fill it again meanwhile), under one lock and one wake-up of the reader; waits up to
        ``timeout`` for the first (then, or after an ``interrupt``: []); raises the reader's error once
        drained, as ``get``."""
        return self._take(timeout, max_bytes, one=False)

    def _take(self, timeout: float, max_bytes: int, one: bool) -> list[Transaction]:
        with self._cond:
            if not self._items and self.error is None and not self._closed and not self._interrupted:
                self._cond.wait_for(
                    lambda: self._items or self.error is not None or self._closed or self._interrupted,
                    max(timeout, 0),
                )
            items = self._items
            if items:
                taken: list[Transaction] = []
                size = 0
                while items and size < max_bytes and not (one and taken):
                    tx = items.popleft()
                    taken.append(tx)
                    size += tx.size
                self._bytes -= size
                self._cond.notify_all()
                return taken
            if self.error is not None:
                raise self.error
            self._interrupted = False  # taken by the get it ended (a get that finds a transaction keeps it)
            return []

    def fail(self, error: BaseException) -> None:
        with self._cond:
            self.error = error
            self._cond.notify_all()

    def interrupt(self) -> None:
        """End the wait of a ``get`` in another thread now (it returns None); when none waits, the next
        ``get`` that finds the queue empty returns None at once."""
        with self._cond:
            self._interrupted = True
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def __len__(self) -> int:
        return len(self._items)


def _empty(tx: Transaction) -> bool:
    """Position only: no events, and no deferred payload (``Transaction.raw``)."""
    return not tx.events and tx.raw is None

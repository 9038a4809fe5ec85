"""Select: cut the selector's whole transactions into RowBatches.

``batch_timeout_ms`` keeps otter's meaning (-1: take what is there; 0: wait until the batch is full;
>0: wait at most that long), with one refinement: a batch also closes as soon as the selector has no
further transaction ready (``IDLE_SECONDS``, 0: no waiting for company) *and* no earlier batch is still
loading, so a lone change is not held back for the timeout, and a steady trickle (say 5k rows a second
in small transactions) loads as one batch per Load round trip instead of one commit per transaction
queued behind each other. Under heavy load batches fill up to ``batch_size`` and leave regardless.
"""

from __future__ import annotations

import operator
import os
import time
from collections.abc import Callable

from otter_core.contracts import Selector
from otter_core.model import EventData, EventType, PipelineParameters, Position, Transaction

IDLE_SECONDS = 0.0
_EVENT_TYPE = operator.attrgetter("event_type")
BUSY_POLL_SECONDS = 0.0005
# The longest wait of the select thread on a woken selector (``poll_or_wake``) while a load is busy: it
# wakes at once when a transaction arrives or a load ends, so this only bounds how late it sees a stop or
# a pause.
WAKE_POLL_SECONDS = 0.05
# The longest wait for a batch's first transaction: the selector returns it at once when it comes, so this
# bounds how late an idle pipeline sees a stop (the runner's join waits for it: ``otter-run load
# --exit-when-done`` ends that much later) for ~20 empty polls a second.
IDLE_WAIT_SECONDS = 0.05


class LoadWake:
    """A self-pipe the runner sets each time a batch has loaded. The select thread, collecting a batch
    while an earlier one loads, waits on it beside the selector process's pipe (``poll_or_wake``) instead
    of waking every ``BUSY_POLL_SECONDS`` to ask whether the load is done: 3-6 us of the runner's CPU per
    OLTP transaction (docs/performance.md), and the batch leaves as soon as the load ends, not up to a
    poll later."""

    def __init__(self) -> None:
        self._read, self._write = os.pipe()
        self._fds: tuple[int, ...] = (self._read, self._write)
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)

    def fileno(self) -> int:
        return self._read

    def set(self) -> None:
        try:
            os.write(self._write, b"\0")
        except BlockingIOError:  # the pipe is full: it is set already
            pass

    def clear(self) -> None:
        try:
            while os.read(self._read, 4096):
                pass
        except BlockingIOError:
            pass

    def close(self) -> None:
        """Closed when the last holder drops it (the select thread may outlive the runner's join)."""
        fds, self._fds = getattr(self, "_fds", ()), ()
        for fd in fds:
            os.close(fd)

    __del__ = close


class Batcher:
    """Pulls transactions from a selector and returns the contents of the next batch."""

    def __init__(
        self,
        selector: Selector,
        params: PipelineParameters,
        load_busy: Callable[[], bool] | None = None,
        wake: LoadWake | None = None,
    ) -> None:
        self.selector = selector
        self.params = params
        # while earlier batches are still loading, a batch with nothing more ready keeps collecting (up to
        # its size and timeout) instead of leaving as one more tiny batch: a trickle of small transactions
        # then loads as a few batches (few commits) rather than one commit each queued behind the others
        self.load_busy = load_busy or (lambda: False)
        # set by the runner when a load ends; used with a selector that can wait on it (``poll_or_wake``)
        self.wake = wake
        self._wait = getattr(selector, "poll_or_wake", None) if wake is not None else None
        # a run of received plain row transactions at once (``ProcessSelector.take_ready``): no
        # ``Transaction``, poll chain, pause check or DDL test per transaction
        self._take = getattr(selector, "take_ready", None)
        # a transaction that must start the next batch: a DDL (it travels alone), or one that came in as
        # the pipeline was paused (what commits after a pause loads only after the resume)
        self._held: Transaction | None = None
        # the memory guard caps a batch whatever batch_bytes says (one transaction always fits)
        self._max_bytes = min(params.batch_bytes, max(1, params.memory_limit_bytes // 4))
        self.first_arrival = (
            time.monotonic()
        )  # when the last batch's first transaction came (Select's timing)

    def next_batch(self, should_stop) -> tuple[list[EventData], Position, int] | None:
        """Events, end position and size of the next batch; None when stopping with nothing read."""
        events: list[EventData] = []
        position: Position | None = None
        size = 0
        started = time.monotonic()
        take = self._take
        while not should_stop():
            if take is not None and self._held is None:
                run = take(self.params.batch_size - len(events), self._max_bytes - size)
                if run is not None:
                    if position is None:
                        self.first_arrival = time.monotonic()
                    events.extend(run[0])
                    position = run[1]
                    size += run[2]
                    if len(events) >= self.params.batch_size or size >= self._max_bytes:
                        break
                    continue
            txn = self._held or self.selector.poll(0.0 if position is not None else IDLE_WAIT_SECONDS)
            self._held = None
            if txn is None:
                if position is None:
                    continue  # nothing yet: keep waiting for the first transaction
                txn = self._more(started, should_stop)
                if txn is None:
                    break
            if should_stop():  # paused or stopped while waiting: the transaction starts the next batch
                self._held = txn
                break
            if _is_ddl(txn):
                if events:
                    self._held = txn  # DDL travels alone so rows before and after it load in order
                    break
                self.first_arrival = time.monotonic()
                return list(txn.events), txn.position, txn.size
            if position is None:
                self.first_arrival = time.monotonic()
            events.extend(txn.events)
            position = txn.position
            size += txn.size
            if len(events) >= self.params.batch_size or size >= self._max_bytes:
                break
        if position is None:
            return None
        return events, position, size

    def _more(self, started: float, should_stop: Callable[[], bool]) -> Transaction | None:
        """Nothing more was ready: the next transaction if the batch keeps collecting (an earlier batch
        is still loading, or ``batch_timeout_ms`` 0 waits until it is full), None when it leaves. With a
        ``LoadWake`` and a selector that waits on it, one wait until a transaction arrives or a load ends;
        otherwise one poll per ``BUSY_POLL_SECONDS`` (the select thread's CPU on a loaded machine is
        taken from the selector process)."""
        params = self.params
        if params.batch_timeout_ms == -1:
            return None
        timeout = params.batch_timeout_ms / 1000.0
        if IDLE_SECONDS > 0:
            txn = self.selector.poll(IDLE_SECONDS)
            if txn is not None:
                return txn
        wake, wait = self.wake, self._wait
        while not should_stop():
            waited = time.monotonic() - started
            if params.batch_timeout_ms > 0 and waited >= timeout:
                return None
            if wake is not None and wait is not None:
                wake.clear()  # before asking: a load that ends after the question sets it again
            if params.batch_timeout_ms != 0 and not self.load_busy():
                return None
            if wait is None:
                txn = self.selector.poll(BUSY_POLL_SECONDS)
            elif params.batch_timeout_ms > 0:
                txn = wait(min(WAKE_POLL_SECONDS, timeout - waited), wake)
            else:
                txn = wait(WAKE_POLL_SECONDS, wake)
            if txn is not None:
                return txn
        return None


def _is_ddl(txn: Transaction) -> bool:
    return EventType.DDL in map(_EVENT_TYPE, txn.events)  # compared in C: a transaction can hold many rows

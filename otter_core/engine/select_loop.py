"""The select loop both runners share: a thread that cuts batches and hands them on in processId order.

``PipelineRunner`` (one process) and ``SelectExtractRunner`` (split stages) select the same way: while
the permit is open and the window has room, the ``Batcher`` cuts the next batch, the arbitrator numbers
it, the window admits it, and ``handoff`` starts its Extract (a ``Future``). The runner's own thread
takes the batches in order with ``take`` and loads or publishes them; any error of the select thread is
raised there. What differs between the runners is passed in: when to end, when there is room, how long
to sleep while waiting, and what to do with a selected batch.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, NamedTuple

import attrs

from otter_core.contracts import Arbitrator
from otter_core.engine.select import Batcher
from otter_core.engine.window import Window
from otter_core.model import RowBatch


class Selected(NamedTuple):
    """A batch in flight: its Extract (``future``) and how long its first transaction waited (ms)."""

    batch: RowBatch
    future: Future
    select_ms: float


@attrs.define(eq=False)
class SelectLoop:
    """One run's select thread and the ordered queue between it and the runner's thread."""

    name: str
    batcher: Batcher
    arbitrator: Arbitrator
    window: Window
    handoff: Callable[[RowBatch], Future]  # starts the batch's Extract
    ending: Callable[[], bool]  # the run is over (stop, abort, a new epoch)
    room: Callable[[], bool]  # a batch may be selected now (may block briefly)
    paused_sleep: float  # the sleep while the permit is closed
    full_sleep: float  # the sleep after ``room()`` said no
    selected: Callable[[RowBatch], None] | None = None  # told of each batch as it enters the window
    order: collections.deque[Selected] = attrs.field(factory=collections.deque)
    error: BaseException | None = None
    done: bool = False
    _cond: threading.Condition = attrs.field(factory=threading.Condition)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"select-{self.name}", daemon=True)
        self._thread.start()

    def join(self, timeout: float = 10.0) -> None:
        """Wait for the thread after ``ending()`` turned true."""
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout=timeout)

    def take(self, timeout: float, check: Callable[[], Any] | None = None) -> Selected | None:
        """The next batch in processId order, or None when none came within ``timeout`` seconds. Raises
        the select thread's error, or what ``check`` (called under the queue's lock) raises."""
        with self._cond:
            self._cond.wait_for(lambda: self.order or self.done, timeout=timeout)
            if self.error is not None:
                raise self.error
            if check is not None:
                check()
            return self.order.popleft() if self.order else None

    @property
    def finished(self) -> bool:
        """The thread ended and every batch it selected was taken."""
        with self._cond:
            return self.done and not self.order

    def _run(self) -> None:
        arbitrator, window, batcher = self.arbitrator, self.window, self.batcher

        def halted() -> bool:  # a closed permit (pause) also ends the batch being filled
            return self.ending() or not arbitrator.permit()

        try:
            while not self.ending():
                if not arbitrator.permit():
                    time.sleep(self.paused_sleep)
                    continue
                if not self.room():
                    time.sleep(self.full_sleep)
                    continue
                got = batcher.next_batch(halted)
                if got is None:
                    continue
                events, position, size = got
                batch = RowBatch(arbitrator.next_process_id(), tuple(events), position, size=size)
                window.enter(size)
                if self.selected is not None:
                    self.selected(batch)
                select_ms = (time.monotonic() - batcher.first_arrival) * 1000.0
                future = self.handoff(batch)
                with self._cond:
                    self.order.append(Selected(batch, future, select_ms))
                    self._cond.notify_all()
        except BaseException as exc:
            self.error = exc
        finally:
            with self._cond:
                self.done = True
                self._cond.notify_all()

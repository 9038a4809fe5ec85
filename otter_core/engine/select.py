"""Select: cut the selector's whole transactions into RowBatches.

``batch_timeout_ms`` keeps otter's meaning (-1: take what is there; 0: wait until the batch is full;
>0: wait at most that long), with one refinement: a batch also closes as soon as the selector has no
further transaction ready (``IDLE_SECONDS``, 0: no waiting for company), so a lone change is not held
back for the timeout, and a steady trickle (say 5k single-row transactions a second) is not held
until the batch fills. Under load batches still grow: while Load is busy the window is full, Select
waits for room, and the transactions that queue up meanwhile make the next batch.
"""
from __future__ import annotations

import time

from otter_core.contracts import Selector
from otter_core.model import EventData, EventType, PipelineParameters, Position, Transaction

IDLE_SECONDS = 0.0


class Batcher:
    """Pulls transactions from a selector and returns the contents of the next batch."""

    def __init__(self, selector: Selector, params: PipelineParameters) -> None:
        self.selector = selector
        self.params = params
        self._held: Transaction | None = None  # a DDL transaction that must start the next batch
        # the memory guard caps a batch whatever batch_bytes says (one transaction always fits)
        self._max_bytes = min(params.batch_bytes, max(1, params.memory_limit_bytes // 4))

    def next_batch(self, should_stop) -> tuple[list[EventData], Position, int] | None:
        """Events, end position and size of the next batch; None when stopping with nothing read."""
        events: list[EventData] = []
        position: Position | None = None
        size = 0
        started = time.monotonic()
        timeout = self.params.batch_timeout_ms / 1000.0
        while not should_stop():
            txn = self._held or self.selector.poll(0.0 if position is not None else 0.2)
            self._held = None
            if txn is None:
                if position is None:
                    continue  # nothing yet: keep waiting for the first transaction
                if self.params.batch_timeout_ms == -1:
                    break
                if self.params.batch_timeout_ms > 0 and time.monotonic() - started >= timeout:
                    break
                txn = self.selector.poll(IDLE_SECONDS)
                if txn is None:
                    if self.params.batch_timeout_ms != 0:
                        break
                    continue
            if _is_ddl(txn):
                if events:
                    self._held = txn  # DDL travels alone so rows before and after it load in order
                    break
                return list(txn.events), txn.position, txn.size
            events.extend(txn.events)
            position = txn.position
            size += txn.size
            if len(events) >= self.params.batch_size or size >= self._max_bytes:
                break
        if position is None:
            return None
        return events, position, size


def _is_ddl(txn: Transaction) -> bool:
    return any(e.event_type is EventType.DDL for e in txn.events)

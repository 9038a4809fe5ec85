"""Run a pipeline's selector in a child process, so binlog decoding gets a core of its own.

Reading the binlog protocol (and decoding rows when the selector does it itself) is CPU work that would
compete for the GIL with Extract/Transform/Load. The child builds the selector through the same plugin
facade, polls it, and sends whole transactions in pickled chunks over a pipe; the pipe's buffer is the
back-pressure (the child blocks when the parent stops reading), so memory stays bounded: a chunk holds
at most CHUNK_BYTES of transactions (one bigger transaction travels alone).

A selector with ``defer_decoding()`` (the MySQL one) is asked to leave decoding to the runner: its
transactions then carry a compact payload in ``Transaction.raw`` instead of events (pickling decoded
events costs far more than decoding), and the runner expands them with ``expand()`` of an instance of
the same selector that it never starts.

A chunk is sent as soon as the selector has nothing more ready (no waiting for company: latency). Its
transactions travel as plain tuples and wait in the runner as such. ``poll`` rebuilds one as the same
``Transaction``; ``take_ready`` hands the Batcher a run of them at once: plain row transactions (no DDL,
no hints to add) go straight from tuple to events (one ``Position`` each, which their events carry),
without a ``Transaction`` per transaction (two with deferred decoding) nor a call chain each.

The child takes every transaction ready in one call when its selector can (``BatchPolling``), and a
selector that packs (``PackedHandover``, the MySQL one) replaces each run of plain transactions in a
chunk by one ``(PACKED, payload, offset)`` item: ``take_ready`` has the runner's instance expand the
events from it (``take_packed``), and a transaction it leaves to ``poll`` is unpacked to its plain tuple
first (``unpack_packed``), so ``poll`` and ``expand`` see what they saw before.
"""

from __future__ import annotations

import collections
import multiprocessing
import multiprocessing.connection
import os
import pickle
import signal
import sys
import time
from typing import Any

from otter_core.contracts import BatchPolling, DeferredDecoding, PackedHandover, StatefulSelector
from otter_core.errors import DETERMINISTIC, TRANSIENT, SourceError, error_class
from otter_core.model import DataMediaSource, EventData, Pipeline, Position, Transaction

CHUNK_EVENTS = 512
CHUNK_BYTES = 256 * 1024
# a pipe item ``(PACKED, payload, offset)`` is a run of transactions the selector packed (``PackedHandover``)
PACKED = "packed"
# The child's reader thread decodes the binlog while its main thread waits for a transaction to send.
# With Python's default 5 ms switch interval a waiting main thread got the GIL up to 5 ms late whenever
# the reader had more events buffered: the p99 of that hop was 4-7 ms under 5k rows/s of background
# writes, 1.3-2.3 ms at 0.5 ms (docs/performance.md, "Latency"). The sender only hands transactions on,
# so switching more often costs the reader little; the runner keeps the default (its threads all work).
SWITCH_INTERVAL_SECONDS = 0.0005
_context = multiprocessing.get_context("spawn")


def tune_child() -> None:
    """The selector process's tuning: the runner's (engine/allocator.py) and a short switch interval."""
    from otter_core.engine.allocator import tune_process

    tune_process()
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)


def _child_main(
    pipeline: Pipeline,
    source: DataMediaSource,
    position: Position | None,
    conn: Any,
    state: tuple[str, str] | None = None,
    entry_points: dict[tuple[str, str], str] | None = None,
) -> None:
    from otter_core.builtin import memory_arbitrator, memory_pipe
    from otter_core.plugins import PipelinePlugins, use_entry_points

    use_entry_points(entry_points or {})  # the runner found the plugin: no entry-point scan here

    # A stop signal sent to the whole process group (`systemctl stop`, `timeout`, Ctrl-C) is the runner's to
    # handle: it drains, acks and then ends this process (close()). Dying first would look like a crash.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    tune_child()
    selector = None
    parent_pid = os.getppid()
    try:
        selector = PipelinePlugins(pipeline, builtins=[memory_pipe, memory_arbitrator]).selector(source)
        if state is not None and isinstance(selector, StatefulSelector):
            selector.use_state_dir(*state)
        deferred = isinstance(selector, DeferredDecoding) and bool(selector.defer_decoding())
        pack = selector.pack_handover if deferred and isinstance(selector, PackedHandover) else None
        selector.start(position)
        conn.send_bytes(pickle.dumps(("started", deferred)))
        poll_all = selector.poll_all if isinstance(selector, BatchPolling) else None
        chunk: list[tuple | Transaction] = []
        events = size = 0

        def send() -> None:
            nonlocal chunk, events, size
            if pack is not None:
                chunk = pack(chunk, PACKED)
            conn.send_bytes(pickle.dumps(("txns", chunk), protocol=pickle.HIGHEST_PROTOCOL))
            chunk, events, size = [], 0, 0

        while True:
            timeout = 0.0 if chunk else 0.2
            if poll_all is not None:
                ready = poll_all(timeout, CHUNK_BYTES)
            else:
                txn = selector.poll(timeout)
                ready = [] if txn is None else [txn]
            if not ready and os.getppid() != parent_pid:
                return  # the runner died (kill -9): do not outlive it
            for txn in ready:
                chunk.append(_plain(txn))
                events += len(txn.events)
                size += txn.size
                if events >= CHUNK_EVENTS or size >= CHUNK_BYTES:
                    send()
            if chunk and not ready:  # nothing more ready: no waiting for company (latency)
                send()
    except (BrokenPipeError, EOFError, KeyboardInterrupt):
        pass
    except BaseException as exc:  # report to the parent, which rolls back and retries
        try:  # the error's class (deterministic, transient, unknown) decides the parent's retries
            conn.send_bytes(pickle.dumps(("error", (type(exc).__name__, str(exc), error_class(exc)))))
        except OSError:
            pass
    finally:
        if selector is not None:
            selector.close()


def _plain(txn: Transaction) -> tuple | Transaction:
    """A transaction as the pipe carries it: plain values (``Transaction`` and ``Position`` pickle
    through a ``__reduce__`` call each, ~0.6 us per transaction of the selector process's CPU)."""
    pos = txn.position
    if type(pos) is not Position:
        return txn
    return (txn.events, (pos.file, pos.pos, pos.gtid, pos.timestamp), txn.size, txn.raw)


def _transaction(item: tuple | Transaction) -> Transaction:
    """The ``Transaction`` that ``_plain`` made ``item`` from."""
    if not isinstance(item, tuple):
        return item
    events, at, size, raw = item
    return Transaction(events, Position(*at), size, raw)


def _row_events_at(expander: Any) -> Any:
    """The expander's ``row_events_at(raw, (file, pos, gtid, timestamp))``, or its ``row_events(raw,
    Position)`` behind the same signature (a plugin without the former), or None (no such method)."""
    if expander is None:
        return None
    row_events_at = getattr(expander, "row_events_at", None)
    if row_events_at is not None:
        return row_events_at
    row_events = getattr(expander, "row_events", None)
    if row_events is None:
        return None
    return lambda raw, at: row_events(raw, Position(*at))


class ProcessSelector:
    """``otter_core.contracts.Selector`` that runs the configured selector in a child process."""

    def __init__(self, pipeline: Pipeline, source: DataMediaSource) -> None:
        self.pipeline = pipeline
        self.source = source
        self._state: tuple[str, str] | None = None  # (state directory, channel) for the selector's own state
        self._pending: collections.deque[tuple | Transaction] = collections.deque()  # as ``_plain`` made them
        self._conn: Any = None
        self._process: Any = None
        self._expander: Any = None  # an unstarted selector of the same plugin: expands Transaction.raw
        self._row_events: Any = None  # ``(raw, position fields) -> events | None`` (``take_ready``), if any
        self._packed: Any = None  # the expander, when it reads the runs of ``PACKED`` items

    def start(self, position: Position | None) -> None:
        entry_points = self._entry_points()
        parent, child = _context.Pipe(duplex=False)
        self._conn = parent
        self._process = _context.Process(
            target=_child_main,
            args=(self.pipeline, self.source, position, child, self._state, entry_points),
            name=f"select-{self.pipeline.name}",
            daemon=True,
        )
        self._process.start()
        child.close()
        self._expander = self._make_expander()  # built while the child starts (the runner imports the plugin)
        self._row_events = _row_events_at(self._expander)
        self._packed = self._expander if isinstance(self._expander, PackedHandover) else None
        deadline = time.monotonic() + 120
        while not self._conn.poll(0.2):
            if not self._process.is_alive() or time.monotonic() > deadline:
                raise SourceError(
                    f"the selector process of pipeline {self.pipeline.name!r} did not start (exit code "
                    f"{self._process.exitcode}); if you run otter from your own script, guard it with "
                    f"`if __name__ == '__main__':` (the child process imports that script), or set "
                    f"`select_process: false`"
                )
        self._receive()

    def _entry_points(self) -> dict[tuple[str, str], str]:
        """The entry points this process resolved, the selector's among them, for the child: it imports
        the plugin's module directly instead of scanning every distribution's entry points (stevedore,
        ``importlib.metadata``: ~20 ms of each start). A plugin that is not installed stops the start
        here, before any child process."""
        from otter_core.plugins import load_entry_point, resolved_entry_points, selector_name

        load_entry_point("selector", selector_name(self.pipeline, self.source))
        return resolved_entry_points()

    def use_state_dir(self, state_dir: str, channel: str) -> None:
        """Passed on to the selector in the child (it may keep state there, e.g. a schema history)."""
        self._state = (state_dir, channel)

    def _make_expander(self) -> Any:
        """An unstarted selector of the same plugin, which expands ``Transaction.raw`` in the runner."""
        from otter_core.builtin import memory_arbitrator, memory_pipe
        from otter_core.plugins import PipelinePlugins

        return PipelinePlugins(self.pipeline, builtins=[memory_pipe, memory_arbitrator]).selector(self.source)

    def _receive(self) -> None:
        try:
            kind, payload = pickle.loads(self._conn.recv_bytes())
        except (EOFError, OSError):
            raise SourceError(
                f"the selector process of pipeline {self.pipeline.name!r} ended unexpectedly "
                f"(exit code {self._process.exitcode})"
            ) from None
        if kind == "txns":
            self._pending.extend(payload)
        elif kind == "started" and not payload:  # the child decodes: nothing to expand here
            self._expander.close()
            self._expander = self._row_events = self._packed = None
        elif kind == "error":
            name, message, kind = payload
            raise SourceError(
                message if name in ("SourceError", "ConfigError") else f"{name}: {message}",
                retryable=kind != DETERMINISTIC,
                transient=kind == TRANSIENT,
            )

    def poll(self, timeout: float) -> Transaction | None:
        if not self._pending and self._conn.poll(timeout):
            self._receive()
        if not self._pending:
            return None
        txn = _transaction(self._popleft())
        return txn if txn.raw is None else self._expander.expand(txn)

    def take_ready(self, max_events: int, max_bytes: int) -> tuple[list[EventData], Position, int] | None:
        """Events, end position and size of the received transactions from the first on, as the Batcher
        would collect them by ``poll``: it stops after the transaction that brings the events to
        ``max_events`` or the size to ``max_bytes``, and before the first one that is not plain row
        events (a DDL, a sent-back or resolved transaction, one ``expand`` must decode chunk by chunk:
        ``poll`` returns that one). None when there is none such ready (nothing received: one look at the
        pipe, no wait). Each transaction's events carry its own position, as ``poll``'s do."""
        pending, row_events = self._pending, self._row_events
        if row_events is None:
            return None
        if not pending:
            if not self._conn.poll(0):
                return None
            self._receive()
        events: list[EventData] = []
        add = events.extend
        last: tuple | None = None  # the last plain transaction's position fields
        end: Position | None = None  # or the last packed one's Position
        size = 0
        packed = self._packed
        while pending:
            item = pending[0]
            if type(item) is tuple and len(item) == 3:  # a packed run (``PACKED``)
                if packed is None:
                    self._unpack_first()
                    continue
                got, at, got_size, offset, done = packed.take_packed(
                    item[1], item[2], max_events - len(events), max_bytes - size
                )
                if done:
                    pending.popleft()
                else:
                    pending[0] = (item[0], item[1], offset)
                if at is None:  # its first transaction needs ``poll``'s way: as a plain tuple it finds it
                    if not done:
                        self._unpack_first()
                    continue
                add(got)
                end, last = at, None
                size += got_size
                if len(events) >= max_events or size >= max_bytes:
                    break
                continue
            if type(item) is not tuple or item[3] is None:
                break  # decoded in the child (or not a plain position): ``poll``'s way
            _, at, txn_size, raw = item
            got = row_events(raw, at)  # its events carry Position(*at), built with them
            if got is None:
                break
            pending.popleft()
            add(got)
            last, end = item, None
            size += txn_size
            if len(events) >= max_events or size >= max_bytes:
                break
        if last is not None:
            end = Position(*last[1])  # one per run: its transactions' events carry their own
        if end is None:
            return None
        return events, end, size

    def _popleft(self) -> tuple | Transaction:
        """The first received transaction (the first of a packed run as its plain tuple)."""
        item = self._pending[0]
        if type(item) is tuple and len(item) == 3:
            self._unpack_first()
        return self._pending.popleft()

    def _unpack_first(self) -> None:
        """The first transaction of the packed run in front, put before the run as its plain tuple."""
        pending = self._pending
        tag, payload, offset = pending[0]  # type: ignore[misc]  # a packed run: a 3-tuple
        expander = self._packed if self._packed is not None else self._expander
        item, offset, done = expander.unpack_packed(payload, offset)
        if done:
            pending[0] = item
        else:
            pending[0] = (tag, payload, offset)
            pending.appendleft(item)

    def poll_or_wake(self, timeout: float, wake: Any) -> Transaction | None:
        """``poll``, but the wait also ends when ``wake`` (anything with a ``fileno``, e.g. the runner's
        ``select.LoadWake``) becomes readable: then None."""
        if not self._pending and self._conn in multiprocessing.connection.wait([self._conn, wake], timeout):
            self._receive()
        if not self._pending:
            return None
        txn = _transaction(self._popleft())
        return txn if txn.raw is None else self._expander.expand(txn)

    def close(self) -> None:
        if self._process is not None and self._process.pid is not None:
            if self._process.is_alive():
                self._process.kill()  # it ignores SIGTERM (see _child_main); it holds nothing to flush
            self._process.join(timeout=30)
        self._process = None
        if self._expander is not None:
            self._expander.close()
            self._expander = self._row_events = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None

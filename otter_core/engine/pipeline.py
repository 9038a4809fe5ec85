"""One pipeline at run time: Select in its own thread, Extract/Transform in a pool, Load in processId order.

Two-phase get/ack: a batch's position is acked only after the batch is loaded. Any failure stops Select,
drops every batch after the last ack, waits (exponential backoff) and starts again from the acked
position; because Load is idempotent, re-reading gives exactly-once effect.
"""

from __future__ import annotations

import functools
import logging
import operator
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor

import attrs

from otter_core.builtin import memory_arbitrator, memory_pipe
from otter_core.builtin.memory_pipe import MemoryPipe
from otter_core.contracts import (
    Arbitrator,
    FencingArbitrator,
    InterruptibleSelector,
    Pipe,
    RowReader,
    Selector,
    StatefulSelector,
)
from otter_core.engine.allocator import tune_process
from otter_core.engine.extract import Extractor
from otter_core.engine.freedom import FreedomDoor
from otter_core.engine.load import LoadStage, PreparedLoad, prepare_ahead
from otter_core.engine.reaper import BatchReaper
from otter_core.engine.retry import RetryPolicy
from otter_core.engine.select import Batcher, LoadWake
from otter_core.engine.select_loop import SelectLoop
from otter_core.engine.select_process import ProcessSelector
from otter_core.engine.snapshot import Snapshot
from otter_core.engine.start import StartPin, source_log_position
from otter_core.engine.stats import PipelineStats, count_by_table
from otter_core.engine.transform import transform
from otter_core.engine.window import Window
from otter_core.files.guard import target_roots
from otter_core.files.stage import FileStage, FileStats
from otter_core.model import DataMediaSource, NodeContext, Pipeline, RowBatch
from otter_core.plugins import PipelinePlugins
from otter_core.rejects import RejectLog

log = logging.getLogger("otter.pipeline")
_SECOND = operator.itemgetter(1)  # the event of an extracted (pair, event)
INLINE_EXTRACT_EVENTS = 64  # batches up to this size are extracted on the select thread (one hand-off less)


class PipelineRunner:
    """Runs one pipeline until ``stop()``; restarts it from the acked position after a failure."""

    def __init__(
        self,
        channel: str,
        pipeline: Pipeline,
        sources: Mapping[str, DataMediaSource],
        state_dir: str,
        arbitrator: Arbitrator | None = None,
        pipe: Pipe | None = None,
        node: NodeContext | None = None,
    ) -> None:
        self.channel = channel
        self.state_dir = state_dir
        self.node = node  # distributed mode: the node's address and secrets, for remote pipes
        if pipeline.channel != channel:  # built by hand (tests): the loader and selector need it
            pipeline = attrs.evolve(pipeline, channel=channel)
        self.pipeline = pipeline
        self.sources = sources
        self.plugins = PipelinePlugins(pipeline, builtins=[memory_pipe, memory_arbitrator])
        # a node (otter-run node) passes the ZooKeeper arbitrator and the pipe it shares between stages
        self.arbitrator = arbitrator or self.plugins.arbitrator(channel, state_dir)
        self._pipe = pipe
        self.stats = PipelineStats(
            channel, pipeline.name, stall_seconds=pipeline.parameters.stall_timeout_ms / 1000
        )
        self.stats.position = self.arbitrator.acked_position()
        self.rejects = RejectLog(state_dir, channel, pipeline.name)
        self.snapshot = Snapshot(
            pipeline,
            channel,
            state_dir,
            self._source_table_reader,
            self.arbitrator.acked_position,
            sources[pipeline.source],
        )
        self.stats.snapshot = self.snapshot.progress
        self.start_pin = StartPin(  # start: resolved once and saved before anything is read
            self.name,
            pipeline,
            self.arbitrator,
            lambda: source_log_position(self.plugins, sources[pipeline.source]),
        )
        self.failure: BaseException | None = None
        tune_process()  # fewer garbage collections, big buffers back to the OS (engine/allocator.py)
        self.file_stats = FileStats()
        self._stop = threading.Event()
        self._window: Window | None = None
        self._selector: Selector | None = None  # the current run's (``stop`` interrupts its wait)

    @property
    def name(self) -> str:
        return f"{self.channel}/{self.pipeline.name}"

    def stop(self) -> None:
        self._stop.set()
        # a selector that can end a wait in progress lets the select thread see the stop now, not after
        # its idle wait (``select.IDLE_WAIT_SECONDS``)
        selector = self._selector
        if isinstance(selector, InterruptibleSelector):
            selector.interrupt()

    def _source_table_reader(self):
        return self.plugins.table_reader(self.sources[self.pipeline.source])

    def is_idle(self) -> bool:
        window = self._window
        return (window is None or window.in_flight == 0) and time.time() - self.stats.last_load_time > 1.0

    def run(self) -> None:
        """Block until stopped (returns) or failed for good (sets ``failure`` and returns); every failure
        rolls back to the acked position and is retried or not by the ``RetryPolicy`` (engine/retry.py)."""
        policy = RetryPolicy.of(self.pipeline.parameters)
        while not self._stop.is_set():
            loaded_before = self.stats.batches_loaded
            try:
                if not policy.failures:
                    self.stats.state = "running"
                self._run_once()
                break
            except Exception as exc:  # every failure rolls back to the acked position
                if self.stats.batches_loaded > loaded_before:
                    policy.progressed()
                verdict = policy.failed(exc)
                self.stats.record_error(exc, verdict.kind)
                self.stats.rolled_back()
                if verdict.stop:
                    log.error("[%s] stopped (%s error): %s", self.name, verdict.why(), exc)
                    self.failure = exc
                    self.stats.state = "failed"
                    return
                log.warning(
                    "[%s] rolled back to %s after a %s error: %s (attempt %d%s in %.1fs)",
                    self.name,
                    self.arbitrator.acked_position() or "start",
                    verdict.kind,
                    exc,
                    verdict.failures + 1,
                    f" of {verdict.bound}" if verdict.bound else "",
                    verdict.delay,
                )
                self.stats.retrying(verdict.failures, verdict.delay)
                self.stats.restarts += 1
                self._stop.wait(verdict.delay)
            finally:
                self.arbitrator.flush()
        self.stats.state = "stopped"

    def _run_once(self) -> None:
        self.start_pin.ensure()  # before anything else: a failure below retries from the pinned start
        params = self.pipeline.parameters
        source = self.sources[self.pipeline.source]
        load_stage = self._make_load_stage()
        # before the selector exists (nothing to close when it raises): a wrong target password stops
        # here, not when the first row arrives
        load_stage.check_targets()
        selector = self._make_selector(source)
        reader, extractor = self._make_extractor(source)
        pipe = self._pipe or self.plugins.pipe(self.node)
        file_stage = self._make_file_stage()
        window = self._window = Window(params.parallelism, params.memory_limit_bytes)
        workers = ThreadPoolExecutor(
            max_workers=params.parallelism, thread_name_prefix=f"et-{self.pipeline.name}"
        )
        abort = threading.Event()
        wake = LoadWake()
        # the items stay this very list in an in-memory pipe: merge and plan them on the worker, while the
        # load thread still waits on an earlier batch (another pipe hands the load thread a copy); a few
        # rows extracted on the select thread are merged by the load (microseconds; the select thread
        # goes back to the source at once)
        in_memory = isinstance(pipe, MemoryPipe)

        def extract_transform(batch: RowBatch, ahead: bool = True) -> tuple[str, dict, PreparedLoad | None]:
            started = time.monotonic()
            extracted = extractor.extract(batch.events)
            extracted_at = time.monotonic()
            items = transform(self.pipeline, extracted)
            prepared = prepare_ahead(load_stage, items) if in_memory and ahead else None
            figures = {
                "tables": count_by_table(map(_SECOND, extracted)),
                "extract": (extracted_at - started) * 1000.0,
                "transform": (time.monotonic() - extracted_at) * 1000.0,  # and the merge and plan ahead
            }
            return pipe.put(items), figures, prepared

        def handoff(batch: RowBatch) -> Future:
            if len(batch.events) > INLINE_EXTRACT_EVENTS:
                return workers.submit(extract_transform, batch)
            # a few rows: no hand-off to a worker (latency)
            future: Future[tuple[str, dict, PreparedLoad | None]] = Future()
            try:
                future.set_result(extract_transform(batch, ahead=False))
            except Exception as exc:
                future.set_exception(exc)
            return future

        loop = SelectLoop(
            self.pipeline.name,
            Batcher(selector, params, load_busy=lambda: window.in_flight > 0, wake=wake),
            self.arbitrator,
            window,
            handoff,
            ending=lambda: self._stop.is_set() or abort.is_set(),
            room=lambda: window.wait_for_room(0.2),
            paused_sleep=0.05,
            full_sleep=0,
            selected=lambda batch: self.stats.selected(batch.process_id, _oldest_commit_time(batch)),
        )
        reaper = BatchReaper(self.pipeline.name)
        try:
            selector.start(self.arbitrator.acked_position())
            loop.start()
            while True:
                selected = loop.take(0.5)
                if selected is None:
                    if loop.finished:
                        break
                    if self.stats.attempt and not self.stats.has_pending():
                        self.stats.resumed()  # a retry that has nothing to replay is running again
                    continue
                batch, future, select_ms = selected
                key, figures, prepared = future.result()
                figures["select"] = select_ms
                items = pipe.get(key)
                self._load_one(
                    batch,
                    items,
                    load_stage,
                    functools.partial(_load_files, file_stage, pipe, key) if file_stage else None,
                    figures,
                    prepared,
                )
                # the select thread waits for ``wake``, not polling, while it collects a batch
                left = functools.partial(_leave, window, batch.size, wake)
                if len(batch.events) > INLINE_EXTRACT_EVENTS:  # freed after the next load started
                    reaper.put([selected, batch, future, figures, prepared, items], left)
                    del selected, batch, future, figures, prepared, items  # the reaper's only now
                else:  # a few rows (latency): freed here, in microseconds
                    left()
        finally:
            abort.set()
            loop.join(timeout=10)
            workers.shutdown(wait=True, cancel_futures=True)
            reaper.close()
            selector.close()
            load_stage.close()
            if self._pipe is None:  # our own pipe: drop what a rollback left in it
                pipe.close()
            if file_stage is not None:
                file_stage.close()
            if reader is not None:
                reader.close()

    def _load_one(
        self,
        batch: RowBatch,
        items: list,
        load_stage: LoadStage,
        load_files: Callable[[list], int] | None = None,
        figures: dict | None = None,
        prepared: PreparedLoad | None = None,
    ) -> None:
        """Load, ack and count one batch; ``figures`` holds its I/U/D per table and earlier stages' ms,
        ``prepared`` its items merged and planned on the Extract worker (``LoadStage.prepare``)."""
        started = time.monotonic()
        try:
            if load_files is not None:  # a batch's rows load only after its files
                load_files(items)
            rows = load_stage.load(items, prepared)
        except Exception as exc:
            self.plugins.load_failed(batch, exc, [event for _, _, event in items])
            _name_positions(exc, batch, self.arbitrator.acked_position())
            raise
        self.arbitrator.ack(batch.process_id, batch.position)
        event_time = float(batch.position.timestamp or 0)
        seconds = time.monotonic() - started
        figures = dict(figures or {})
        tables = figures.pop("tables", None)
        self.stats.record_batch(
            rows,
            batch.position,
            event_time,
            batch.size,
            tables,
            {**figures, "load": seconds * 1000.0},
            batch.process_id,
        )
        self.plugins.batch_loaded(batch, rows, seconds)
        log.debug(
            "[%s] batch %d: %d events, %d rows, acked %s",
            self.name,
            batch.process_id,
            len(batch),
            rows,
            batch.position,
        )

    def _make_selector(self, source: DataMediaSource) -> Selector:
        selector = (
            ProcessSelector(self.pipeline, source)
            if self.pipeline.parameters.in_child_process
            else self.plugins.selector(source)
        )
        if isinstance(selector, StatefulSelector):  # state of its own (the MySQL schema history)
            selector.use_state_dir(self.state_dir, self.channel)
        self._selector = self.snapshot.wrap(selector)
        return self._selector

    def _make_file_stage(self) -> FileStage | None:
        """The file loader when a pair syncs files (it shares this runner's counters), else None."""
        if not any(p.file_resolver for p in self.pipeline.pairs):
            return None
        params = self.pipeline.parameters
        stage = FileStage(
            params.file_load_pool_size,
            params.pipe_streams,
            f"files-{self.pipeline.name}",
            roots=target_roots(self.pipeline),
        )
        stage.stats = self.file_stats
        return stage

    def _make_load_stage(self) -> LoadStage:
        token = self.arbitrator.fencing_token if isinstance(self.arbitrator, FencingArbitrator) else None
        return LoadStage(
            self.pipeline,
            lambda target: self.plugins.loader(self.sources[target]),
            self.rejects,
            fencing=None if token is None else (self.name, token),
        )

    def _make_extractor(self, source: DataMediaSource) -> tuple[RowReader | None, Extractor]:
        reader = (
            self.plugins.row_reader(source)
            if self.pipeline.parameters.sync_consistency == "media" or self.pipeline.home
            else None
        )
        resolvers = {
            p: self.plugins.file_resolver(p.file_resolver, p, p.file_resolver_options)
            for p in self.pipeline.pairs
            if p.file_resolver
        }
        extractor = Extractor(
            self.pipeline,
            {p: self.plugins.event_processors(p) for p in self.pipeline.pairs},
            reader,
            self.rejects,
            resolvers,
        )
        extractor.freedom = FreedomDoor(self.pipeline, self._source_table_reader, self.rejects)
        return reader, extractor


def _load_files(file_stage: FileStage, pipe: Pipe, key: str, items: list) -> int:
    """Load the files of a batch's rows (fetched from the pipe under ``key``) before the rows."""
    return file_stage.load(items, pipe.files(key))


def _leave(window: Window, size: int, wake: LoadWake) -> None:
    """A loaded batch's memory is free: its room in the window goes back to Select."""
    window.leave(size)
    wake.set()


def _oldest_commit_time(batch: RowBatch) -> float:
    """Commit time of the batch's first (oldest) event, else of its end position (0: unknown)."""
    first = batch.events[0].execute_time if batch.events else 0.0
    return float(first or batch.position.timestamp or 0)


def _name_positions(exc: BaseException, batch: RowBatch, acked: object) -> None:
    """Add the failed batch's binlog positions to ``exc``'s message, which names table and key but not
    where in the binlog the rows are (the pipeline resumes at the acked position)."""
    first = batch.events[0].position if batch.events else None
    where = (
        f"binlog {first} .. {batch.position}"
        if first and str(first) != "(start)"
        else f"binlog {batch.position}"
    )
    note = f" [batch {batch.process_id} at {where}; acked position {acked or '(none yet)'}]"
    if exc.args and isinstance(exc.args[0], str) and note not in exc.args[0]:
        exc.args = (exc.args[0] + note, *exc.args[1:])

"""Split stages: Select+Extract in one process, Transform+Load in another (on the same node or not).

The batch travels through the pipe (``put`` on the S/E side returns a key, ``get`` on the T/L side);
processIds, the key and the position travel through the arbitrator's stage signals
(``otter_core.contracts.StageSignals``). The guarantees are those of the single-process pipeline:
T/L loads strictly in processId order and acks only after the load; any failure on either side starts
a new epoch, every signal of the old one is void, and S/E re-reads from the acked position (Load is
idempotent, so the replay has exactly-once effect). Both runners reuse ``PipelineRunner.run``'s retry loop
(``engine/retry.py``); S/E selects with the same ``SelectLoop`` (``engine/select_loop.py``) as the one-process runner.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor

from otter_core.contracts import Arbitrator, DiscardingPipe, Pipe, StageSignals
from otter_core.engine.load import LoadStage, PreparedLoad, prepare_ahead
from otter_core.engine.pipeline import PipelineRunner
from otter_core.engine.select import Batcher
from otter_core.engine.select_loop import SelectLoop
from otter_core.engine.transform import transform
from otter_core.engine.window import Window
from otter_core.errors import OtterError
from otter_core.files.stage import FileStage
from otter_core.model import DataMediaSource, Pipeline, RowBatch
from otter_core.model.node import ReadySignal

log = logging.getLogger("otter.stages")


class RolledBack(OtterError):
    """The other stage started a new epoch (it failed, or a new S/E took over): restart from the ack."""


def _signals(arbitrator: Arbitrator) -> StageSignals:
    if not isinstance(arbitrator, StageSignals):
        raise OtterError(
            f"arbitrator {type(arbitrator).__name__} cannot signal between split stages "
            f"(it lacks the StageSignals methods): use the zookeeper arbitrator",
            retryable=False,
        )
    return arbitrator


class SelectExtractRunner(PipelineRunner):
    """Select and Extract of one pipeline; publishes each extracted batch in processId order."""

    def __init__(
        self,
        channel: str,
        pipeline: Pipeline,
        sources: Mapping[str, DataMediaSource],
        state_dir: str,
        arbitrator: Arbitrator,
        pipe: Pipe,
        node_id: int = 0,
    ) -> None:
        super().__init__(channel, pipeline, sources, state_dir, arbitrator=arbitrator, pipe=pipe)
        self.signals = _signals(arbitrator)
        self.node_id = node_id
        self.pipe = pipe

    def _run_once(self) -> None:
        params = self.pipeline.parameters
        signals = self.signals
        epoch = signals.begin_epoch(f"select/extract starts on node {self.node_id}")
        position = self.start_pin.ensure()  # the acked position, else start: pinned once for every node
        self.stats.position = position
        source = self.sources[self.pipeline.source]
        selector = self._make_selector(source)
        reader, extractor = self._make_extractor(source)
        window = self._window = Window(params.parallelism, params.memory_limit_bytes)
        workers = ThreadPoolExecutor(
            max_workers=params.parallelism, thread_name_prefix=f"e-{self.pipeline.name}"
        )
        abort = threading.Event()
        published: list[str] = []

        def room() -> bool:  # batches selected here plus batches published and not yet loaded over there
            return window.in_flight + signals.in_flight() < params.parallelism and window.has_room()

        def epoch_ended() -> None:
            if signals.epoch() != epoch:
                raise RolledBack(
                    f"pipeline {self.name}: epoch {epoch} ended (the load stage rolled "
                    f"back or another select took over): restarting from the acked position"
                )

        loop = SelectLoop(
            self.pipeline.name,
            Batcher(selector, params),
            self.arbitrator,
            window,
            lambda batch: workers.submit(lambda b: self.pipe.put(extractor.extract(b.events)), batch),
            ending=lambda: self._stop.is_set() or abort.is_set() or signals.epoch() != epoch,
            room=room,
            paused_sleep=0.02,
            full_sleep=0.02,
        )
        try:
            selector.start(position)
            loop.start()
            while True:
                selected = loop.take(0.5, check=epoch_ended)
                if selected is None:
                    if loop.finished:
                        break
                    if self.stats.attempt:
                        self.stats.resumed()  # a retry that reads nothing new is running again
                    continue
                batch, future, _ = selected
                key = future.result()
                published.append(key)
                signals.publish(
                    ReadySignal(batch.process_id, key, batch.position, batch.size, epoch, self.node_id)
                )
                window.leave(batch.size)
                self.stats.record_batch(len(batch), batch.position, float(batch.position.timestamp or 0))
        except BaseException:
            if signals.epoch() == epoch and not self._stop.is_set():
                signals.rollback(f"select/extract failed on node {self.node_id}")
            raise
        finally:
            abort.set()
            loop.join(timeout=10)
            workers.shutdown(wait=True, cancel_futures=True)
            selector.close()
            if reader is not None:
                reader.close()
            self._discard_unloaded(published, epoch)

    def _discard_unloaded(self, keys: list[str], epoch: int) -> None:
        """Free the pipe's copies of batches a rollback voided (the load stage will never ask for them)."""
        if not isinstance(self.pipe, DiscardingPipe) or self.signals.epoch() == epoch:
            return
        for key in keys:
            try:
                self.pipe.discard(key)
            except Exception:  # already taken, or the pipe is gone: nothing left to free
                log.debug("discard %s failed", key, exc_info=True)


class TransformLoadRunner(PipelineRunner):
    """Transform and Load of one pipeline: takes ready batches strictly in processId order, acks each."""

    def __init__(
        self,
        channel: str,
        pipeline: Pipeline,
        sources: Mapping[str, DataMediaSource],
        state_dir: str,
        arbitrator: Arbitrator,
        pipe: Pipe,
        node_id: int = 0,
    ) -> None:
        super().__init__(channel, pipeline, sources, state_dir, arbitrator=arbitrator, pipe=pipe)
        self.signals = _signals(arbitrator)
        self.node_id = node_id
        self.pipe = pipe

    def is_idle(self) -> bool:
        return self.signals.in_flight() == 0 and time.time() - self.stats.last_load_time > 1.0

    def _run_once(self) -> None:
        signals = self.signals
        signals.begin_load(f"transform/load starts on node {self.node_id}")
        load_stage = self._make_load_stage()
        load_stage.check_targets()  # a wrong target password stops here, not at the first batch
        file_stage = self._make_file_stage()
        depth = max(1, self.pipeline.parameters.parallelism)
        fetcher = ThreadPoolExecutor(max_workers=depth, thread_name_prefix=f"fetch-{self.pipeline.name}")
        ahead: collections.deque[tuple[ReadySignal, Future]] = collections.deque()  # fetching, in order
        last: tuple[int, int] = (-1, -1)  # (epoch, processId) of the last loaded batch
        try:
            while not self._stop.is_set():
                self._fetch_ahead(ahead, fetcher, depth, last, load_stage)
                if not ahead:
                    if self.stats.attempt and not self.stats.has_pending():
                        self.stats.resumed()  # a retry with nothing to replay is running again
                    continue
                signal, future = ahead.popleft()
                if signal.epoch != signals.epoch():
                    future.cancel()
                    self.stats.rolled_back()  # the lag still counts from the oldest unapplied batch
                    continue  # voided by a rollback: the new epoch brings it again
                try:
                    items, prepared = future.result()
                except Exception:
                    if signals.epoch() != signal.epoch:
                        self.stats.rolled_back()
                        continue  # voided while we fetched it
                    raise
                self._load_signal(signal, items, prepared, load_stage, file_stage)
                last = (signal.epoch, signal.process_id)
        except BaseException as exc:
            if not self._stop.is_set():
                signals.rollback(f"transform/load failed on node {self.node_id}: {exc}")
            raise
        finally:
            fetcher.shutdown(wait=False, cancel_futures=True)
            load_stage.close()
            if file_stage is not None:
                file_stage.close()

    def _fetch_ahead(
        self,
        ahead: collections.deque,
        fetcher: ThreadPoolExecutor,
        depth: int,
        last: tuple[int, int],
        load_stage: LoadStage,
    ) -> None:
        """Start fetching the next ready batches from the pipe (up to ``depth``), so that their transfers,
        transforms, merges and plans overlap the load of the current one; waits up to half a second when
        nothing is fetching."""
        if len(ahead) >= depth:
            return
        tail = (ahead[-1][0].epoch, ahead[-1][0].process_id) if ahead else last
        for signal in self.signals.upcoming(depth, 0.0 if ahead else 0.5):
            order = (signal.epoch, signal.process_id)
            if any(queued.process_id == signal.process_id for queued, _ in ahead):
                continue
            if order <= tail:
                raise OtterError(
                    f"pipeline {self.name}: batch {signal.process_id} of epoch {signal.epoch} "
                    f"arrived after batch {tail[1]} of epoch {tail[0]}: out of order"
                )
            ahead.append((signal, fetcher.submit(self._fetch, signal.key, load_stage)))
            self.stats.selected(signal.process_id, float(signal.position.timestamp or 0))
            tail = order
            if len(ahead) >= depth:
                return

    def _fetch(self, key: str, load_stage: LoadStage) -> tuple[list, PreparedLoad | None]:
        """A batch from the pipe, transformed, with its rows merged and planned (``LoadStage.prepare``)."""
        items = transform(self.pipeline, self.pipe.get(key))
        return items, prepare_ahead(load_stage, items)

    def _load_signal(
        self,
        signal: ReadySignal,
        items: list,
        prepared: PreparedLoad | None,
        load_stage: LoadStage,
        file_stage: FileStage | None = None,
    ) -> None:
        started = time.monotonic()
        batch = RowBatch(
            signal.process_id, tuple(event for _, _, event in items), signal.position, size=signal.size
        )
        try:
            if file_stage is not None:  # the rows' files first, from the S/E node (file sync)
                file_stage.load(items, self.pipe.files(signal.key))
            rows = load_stage.load(items, prepared)
        except Exception as exc:
            self.plugins.load_failed(batch, exc, batch.events)
            raise
        self.signals.done(signal)
        self.stats.record_batch(
            rows, signal.position, float(signal.position.timestamp or 0), process_id=signal.process_id
        )
        self.plugins.batch_loaded(batch, rows, time.monotonic() - started)

"""Load: merge a transformed batch, then apply it phase by phase over the targets' connection pools."""

from __future__ import annotations

import logging
import operator
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from otter_core.contracts import CheckedLoader, FencedLoader, IgnoresDDL, Loader
from otter_core.engine.snapshot_bulk import ChunkEvent, load_chunks, split_chunks
from otter_core.errors import TRANSIENT, LoadError, error_class
from otter_core.load.merge import merge_events
from otter_core.load.plan import LoadStep, group_by_target, plan_groups
from otter_core.model import EventData, EventType, Hint, Pipeline
from otter_core.rejects import RejectLog

log = logging.getLogger("otter.load")
_EVENT_TYPE = operator.attrgetter("event_type")
_EVENT = operator.itemgetter(2)  # the event of a (target, weight, event) item


class PreparedLoad:
    """A batch's row items merged and planned before its load (``LoadStage.prepare``), so that the load
    thread, which loads one batch at a time, sends the next batch the moment the last one committed."""

    __slots__ = ("items", "merged", "phases")

    def __init__(
        self,
        items: Sequence[tuple[str, int, EventData]],
        merged: dict[tuple[str, int], list[EventData]],
        phases: list[list[LoadStep]] | None,
    ) -> None:
        self.items = items  # the very list it was made from: ``load`` uses it for that list only
        self.merged = merged
        self.phases = phases  # None with conflict detection (``_load_whole`` plans per target)


def prepare_ahead(stage: LoadStage, items: Sequence[tuple[str, int, EventData]]) -> PreparedLoad | None:
    """``stage.prepare(items)``, or None when it fails: the load then merges the items again and raises
    where a failed load is reported (``otter_load_failed``, the batch's binlog positions)."""
    try:
        return stage.prepare(items)
    except Exception:
        log.debug("merging a batch ahead of its load failed; its load merges it", exc_info=True)
        return None


class LoadStage:
    """Owns the loaders (one per target source) and a thread pool per target."""

    def __init__(
        self,
        pipeline: Pipeline,
        make_loader: Callable[[str], Loader],
        rejects: RejectLog | None = None,
        fencing: tuple[str, int] | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.make_loader = make_loader
        self.rejects = rejects
        self.fencing = fencing  # (pipeline, token) from an arbitrator that has fencing tokens (ZooKeeper)
        self.loaders: dict[str, Loader] = {}
        self.pools: dict[str, ThreadPoolExecutor] = {}

    def _loader(self, target: str) -> Loader:
        if target not in self.loaders:
            loader = self.make_loader(target)
            if self.fencing is not None:
                self._fence(target, loader, self.fencing)
            self.loaders[target] = loader
            self.pools[target] = ThreadPoolExecutor(
                max_workers=self.pipeline.parameters.load_pool_size,
                thread_name_prefix=f"load-{self.pipeline.name}-{target}",
            )
        return self.loaders[target]

    def check_targets(self) -> None:
        """Check every target the pipeline loads into (``CheckedLoader``) before anything is read, with a
        loader of its own that is closed at once: a refusal stops the pipeline at start, not at its first
        row; a target that is down raises a retryable error, retried visibly like a failed load."""
        targets = {self.pipeline.target} | {p.target_source for p in self.pipeline.pairs if p.target_source}
        for target in sorted(targets):
            loader = self.make_loader(target)
            try:
                if isinstance(loader, CheckedLoader):
                    loader.check_target()
            finally:
                loader.close()

    def _fence(self, target: str, loader: Loader, fencing: tuple[str, int]) -> None:
        """Take the loads over on ``target`` with the arbitrator's fencing token (see ``Arbitrator``)."""
        if not isinstance(loader, FencedLoader):
            log.warning(
                "[%s] the loader of target %s cannot fence its loads: a node that loses its ZooKeeper "
                "session while a load is in flight could still commit it after another node took over",
                self.pipeline.name,
                target,
            )
            return
        try:
            loader.fence(*fencing)
        except Exception:
            loader.close()
            raise

    def prepare(self, items: Sequence[tuple[str, int, EventData]]) -> PreparedLoad | None:
        """Merge and plan a batch's row items ahead of its load (on an Extract worker, while the load
        thread still waits on an earlier batch's connections); None for a batch with DDL or initial-load
        chunks, which ``load`` plans itself as before (the chunks' fallback rows join the batch's rows)."""
        ddl_type = EventType.DDL
        for event in map(_EVENT, items):
            if event.event_type is ddl_type or type(event) is ChunkEvent:
                return None
        merged = {key: merge_events(events) for key, events in group_by_target(items).items()}
        if self.pipeline.detects_conflicts:
            return PreparedLoad(items, merged, None)
        return PreparedLoad(items, merged, plan_groups(merged, self.pipeline.parameters.load_pool_size))

    def load(self, items: Sequence[tuple[str, int, EventData]], prepared: PreparedLoad | None = None) -> int:
        """Apply one batch's (target, weight, event) items; return rows written. Initial-load chunks that
        travel as blocks are loaded first (``snapshot_bulk``). ``prepared``: ``prepare(items)`` of this
        same list, done earlier (ignored when made from another list)."""
        if prepared is not None and prepared.items is items:
            return self._load_merged(prepared.merged, prepared.phases)
        items, chunks = split_chunks(items)
        written = 0
        if chunks:
            written, fallback = load_chunks(self, chunks)
            items = fallback + items
        return written + self._load_rows(items)

    def _load_rows(self, items: Sequence[tuple[str, int, EventData]]) -> int:
        grouped = group_by_target(items)
        ddl_type = EventType.DDL
        if any(ddl_type in map(_EVENT_TYPE, events) for events in grouped.values()):
            return self._load_ddl([(t, e) for t, _, e in items if e.event_type is ddl_type])
        return self._load_merged({key: merge_events(events) for key, events in grouped.items()})

    def _load_merged(
        self, merged: dict[tuple[str, int], list[EventData]], phases: list[list[LoadStep]] | None = None
    ) -> int:
        """Load merged row events phase by phase (``phases``: their plan, when made ahead)."""
        if self.pipeline.detects_conflicts:
            return self._load_whole(merged)
        if phases is None:
            phases = plan_groups(merged, self.pipeline.parameters.load_pool_size)
        rows = 0
        for phase in phases:
            tasks = [
                (step.target, self._loader(step.target), part, slot)
                for step in phase
                for slot, part in enumerate(step.partitions)
            ]
            errors = []
            if len(tasks) == 1:  # a small batch: no hand-off to the pool's thread (latency)
                _, loader, part, slot = tasks[0]
                try:
                    rows += loader.load(part, slot)
                except Exception as exc:
                    errors.append(exc)
            else:
                futures = [
                    self.pools[target].submit(loader.load, part, slot) for target, loader, part, slot in tasks
                ]
                for future in futures:  # wait for all, then report the first failure
                    try:
                        rows += future.result()
                    except Exception as exc:
                        errors.append(exc)
            if errors and self._skips(errors):
                rows += self._load_one_by_one(phase)
            elif errors:
                if isinstance(errors[0], LoadError):
                    raise errors[0]
                raise LoadError(f"load failed in pipeline {self.pipeline.name!r}: {errors[0]!r}") from errors[
                    0
                ]
        return rows

    def _load_whole(self, merged: dict[tuple[str, int], list[EventData]]) -> int:
        """Conflict detection: each target's part of the batch in one transaction (phases in order inside it).

        Split over several connections, a failure could leave some parts committed; the replay would then
        check them again against rows the application changed since, find what they expect (an INSERT
        whose row was deleted meanwhile finds "no row") and apply them a second time on this side only."""
        events: dict[str, list[EventData]] = defaultdict(list)
        for phase in plan_groups(merged, 1):
            for step in phase:
                events[step.target].extend(step.partitions[0])
        rows = 0
        for target, part in events.items():
            try:
                rows += self._loader(target).load(part, 0)
            except Exception as exc:
                if not self._skips([exc]):
                    if isinstance(exc, LoadError):
                        raise
                    raise LoadError(f"load failed in pipeline {self.pipeline.name!r}: {exc!r}") from exc
                rows += self._load_one_by_one([LoadStep(target, 0, False, (tuple(part),))])
        return rows

    def _skips(self, errors: Sequence[Exception]) -> bool:
        """skip_load_exception applies: none of ``errors`` is transient (a lost connection or a deadlock
        says nothing about the rows: the batch is retried, never sent to the reject log)."""
        return (
            self.pipeline.parameters.skip_load_exception
            and self.rejects is not None
            and all(error_class(e) != TRANSIENT for e in errors)
        )

    def _load_one_by_one(self, phase: Sequence[LoadStep]) -> int:
        """skip_load_exception: retry each event alone; the ones the target refuses go to the reject log."""
        rejects = self.rejects
        if rejects is None:  # the callers check it: skipping needs a reject log
            raise LoadError(f"pipeline {self.pipeline.name!r}: skip_load_exception without a reject log")
        rows = 0
        for step in phase:
            loader = self._loader(step.target)
            for part in step.partitions:
                for event in part:
                    try:
                        rows += loader.load([event], 0)
                    except Exception as exc:
                        if error_class(exc) == TRANSIENT:
                            raise  # the target went away meanwhile: retry the batch, reject nothing
                        log.warning("skip_load_exception: rejected %s: %s", event.describe(), exc)
                        rejects.write(event, f"skip_load_exception: {exc}")
        return rows

    def _load_ddl(self, ddl: list[tuple[str, EventData]]) -> int:
        for target, event in ddl:
            params = self.pipeline.parameters
            if params.skip_ddl:
                log.warning("skip_ddl: not applying %s", event.describe())
                if self.rejects is not None:
                    self.rejects.write(event, "skip_ddl")
                continue
            loader = self._loader(target)
            if isinstance(loader, IgnoresDDL) and loader.ignores_ddl:  # e.g. a cache: no schema to change
                continue
            renamed = Hint.RENAMED_FROM.values_in(event.hints)
            if renamed:
                raise LoadError(
                    f"DDL on {renamed[0]} cannot be applied verbatim to the renamed target "
                    f"{event.full_name} ({event.ddl_sql!r}) at {event.position}: apply it to the target by hand "
                    f"and set `skip_ddl: true` in the pipeline's parameters",
                    retryable=False,
                )
            try:
                self._loader(target).apply_ddl(event)
            except Exception as exc:
                if (
                    not (params.skip_ddl_exception and self.rejects is not None)
                    or error_class(exc) == TRANSIENT
                ):
                    raise
                log.warning("skip_ddl_exception: %s failed: %s", event.describe(), exc)
                self.rejects.write(event, f"skip_ddl_exception: {exc}")
        return 0

    def close(self) -> None:
        for pool in self.pools.values():
            pool.shutdown(wait=True, cancel_futures=True)
        for loader in self.loaders.values():
            try:
                loader.close()
            except Exception:  # closing after a failure must not hide the failure
                log.debug("closing loader failed", exc_info=True)
        self.loaders.clear()
        self.pools.clear()

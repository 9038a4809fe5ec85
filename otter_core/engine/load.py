"""Load: merge a transformed batch, then apply it phase by phase over the targets' connection pools."""
from __future__ import annotations

import logging
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Sequence

from otter_core.contracts import Loader
from otter_core.errors import LoadError
from otter_core.load.merge import merge_events
from otter_core.load.plan import plan_load
from otter_core.model import EventData, EventType, Pipeline

log = logging.getLogger("otter.load")


class LoadStage:
    """Owns the loaders (one per target source) and a thread pool per target."""

    def __init__(self, pipeline: Pipeline, make_loader: Callable[[str], Loader]) -> None:
        self.pipeline = pipeline
        self.make_loader = make_loader
        self.loaders: dict[str, Loader] = {}
        self.pools: dict[str, ThreadPoolExecutor] = {}

    def _loader(self, target: str) -> Loader:
        if target not in self.loaders:
            self.loaders[target] = self.make_loader(target)
            self.pools[target] = ThreadPoolExecutor(
                max_workers=self.pipeline.parameters.load_pool_size,
                thread_name_prefix=f"load-{self.pipeline.name}-{target}")
        return self.loaders[target]

    def load(self, items: Sequence[tuple[str, int, EventData]]) -> int:
        """Apply one batch's (target, weight, event) items; return rows written."""
        ddl = [(t, e) for t, _, e in items if e.event_type is EventType.DDL]
        if ddl:
            return self._load_ddl(ddl)
        grouped: dict[tuple[str, int], list[EventData]] = defaultdict(list)
        for target, weight, event in items:
            grouped[(target, weight)].append(event)
        merged = [(target, weight, event) for (target, weight), events in grouped.items()
                  for event in merge_events(events)]
        rows = 0
        pool_size = self.pipeline.parameters.load_pool_size
        for phase in plan_load(merged, pool_size):
            futures = []
            for step in phase:
                loader = self._loader(step.target)
                for slot, part in enumerate(step.partitions):
                    futures.append(self.pools[step.target].submit(loader.load, part, slot))
            errors = []
            for future in futures:  # wait for all, then report the first failure
                try:
                    rows += future.result()
                except Exception as exc:
                    errors.append(exc)
            if errors:
                if isinstance(errors[0], LoadError):
                    raise errors[0]
                raise LoadError(f"load failed in pipeline {self.pipeline.name!r}: {errors[0]!r}") from errors[0]
        return rows

    def _load_ddl(self, ddl: list[tuple[str, EventData]]) -> int:
        for target, event in ddl:
            if self.pipeline.parameters.skip_ddl:
                log.warning("skip_ddl: not applying %s", event.describe())
                continue
            renamed = sorted(h for h in event.hints if h.startswith("renamed-from:"))
            if renamed:
                raise LoadError(
                    f"DDL on {renamed[0].split(':', 1)[1]} cannot be applied verbatim to the renamed target "
                    f"{event.full_name} ({event.ddl_sql!r}) at {event.position}: apply it to the target by hand "
                    f"and set `skip_ddl: true` in the pipeline's parameters", retryable=False)
            self._loader(target).apply_ddl(event)
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

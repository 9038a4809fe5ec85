"""One pipeline's verification: build its units, compare them, re-check after the lag, repair."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from otter_core.builtin import memory_arbitrator, memory_pipe
from otter_core.contracts import TableReader
from otter_core.engine.extract import Extractor
from otter_core.engine.load import LoadStage
from otter_core.errors import OtterError
from otter_core.model import OtterConfig, Pipeline, Position
from otter_core.plugins import PipelinePlugins
from otter_core.verify.compare import UnitResult, UnitVerifier
from otter_core.verify.recheck import LagWaiter, Rechecker
from otter_core.verify.units import RowMapper, build_units

log = logging.getLogger("otter.verify")


class PipelineVerification:
    """Compares the source and target tables of ``pipeline`` (and repairs them on request)."""

    def __init__(
        self,
        config: OtterConfig,
        channel: str,
        pipeline: Pipeline,
        state_dir: str,
        chunk_rows: int = 10_000,
        rounds: int = 3,
        lag_timeout: float = 120.0,
        stall: float = 5.0,
    ) -> None:
        self.config = config
        self.channel = channel
        self.pipeline = pipeline
        self.state_dir = state_dir
        self.chunk_rows = chunk_rows
        self.plugins = PipelinePlugins(pipeline, builtins=[memory_pipe, memory_arbitrator])
        self.source = self.plugins.table_reader(config.sources[pipeline.source])
        self._targets: dict[str, TableReader] = {}
        self.extractor = Extractor(pipeline, {p: self.plugins.event_processors(p) for p in pipeline.pairs})
        self.waiter = LagWaiter(self.source.log_position, self.acked_position, lag_timeout, stall)
        self.rounds = rounds

    @property
    def name(self) -> str:
        return f"{self.channel}/{self.pipeline.name}"

    def target(self, name: str) -> TableReader:
        if name not in self._targets:
            self._targets[name] = self.plugins.table_reader(self.config.sources[name], role="target")
        return self._targets[name]

    def acked_position(self) -> Position | None:
        """The pipeline's acked position as its arbitrator has it now (read afresh on every call)."""
        return self.plugins.arbitrator(self.channel, self.state_dir).acked_position()

    def run(
        self,
        tables: Sequence[str] = (),
        repair: bool = False,
        on_unit: Callable[[UnitResult], None] | None = None,
    ) -> list[UnitResult]:
        units = build_units(self.pipeline, self.source, self.target, tables)
        mappers = {id(u): RowMapper(self.pipeline, self.extractor, u) for u in units}
        results = []
        for unit in units:
            verifier = UnitVerifier(
                unit, self.source, self.target(unit.target_source), mappers[id(unit)], self.chunk_rows
            )
            try:
                result = verifier.run()
            except OtterError as exc:
                result = verifier.result
                result.error = str(exc)
                log.error("[%s] verify of %s failed: %s", self.name, unit.describe(), exc)
            results.append(result)
            if on_unit is not None:
                on_unit(result)
        rechecker = Rechecker(
            {id(u): self.source for u in units},
            {id(u): self.target(u.target_source) for u in units},
            mappers,
            self.waiter,
            self.rounds,
        )
        rechecker.settle(results)
        for result in results:
            result.found = result.counts()
        if repair and any(r.differences for r in results):
            load_stage = LoadStage(self.pipeline, lambda name: self.plugins.loader(self.config.sources[name]))
            try:
                for result in results:
                    result.repaired = rechecker.repair(result, load_stage)
            finally:
                load_stage.close()
            rechecker.settle(results)
        return results

    def close(self) -> None:
        for reader in [self.source, *self._targets.values()]:
            reader.close()

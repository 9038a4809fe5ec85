"""Verify while replication runs: re-check differing rows after the pipeline's lag, then repair them.

A row that differs in the first pass may only be in flight: changed on the source, not yet loaded. Before
a difference is reported, the source's current log position is read and verify waits until the pipeline
acked that position (or stopped advancing: then nothing more is coming), then reads the row again on the
source, on the target, and on the source once more; the row is consistent when the target equals either
source read. Rows still differing after ``rounds`` such re-checks are reported.

Repair loads the source's current rows (or deletes target-only rows) through the pipeline's own Load
stage — merge, weights, the target's idempotent loader, loopback marks in two-way channels — and then
re-checks the repaired rows the same way (a change replicated meanwhile may have overtaken the repair).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from otter_core.engine.load import LoadStage
from otter_core.engine.snapshot_state import position_order
from otter_core.model import EventData, EventType, Hint, Position
from otter_core.verify.compare import DIFFERENT, EXTRA, MISSING, Difference, UnitResult, expected_by_keys
from otter_core.verify.units import canonical, same_row

log = logging.getLogger("otter.verify")


class LagWaiter:
    """Waits until the pipeline acked the source's current position, or stopped advancing."""

    def __init__(
        self,
        log_position: Callable[[], Position | None],
        acked: Callable[[], Position | None],
        timeout: float = 120.0,
        stall: float = 5.0,
    ) -> None:
        self.log_position = log_position
        self.acked = acked
        self.timeout = timeout
        self.stall = stall

    def wait(self) -> bool:
        """True when the pipeline caught up with the position read now; False when it did not move for
        ``stall`` seconds (not running, or stuck) or ``timeout`` passed."""
        target = position_order(self.log_position())
        started = last_move = time.monotonic()
        last = position_order(self.acked())
        while last < target:
            now = time.monotonic()
            if now - last_move >= self.stall or now - started >= self.timeout:
                return False
            time.sleep(0.1)
            current = position_order(self.acked())
            if current != last:
                last, last_move = current, time.monotonic()
        return True


class Rechecker:
    """Re-checks and repairs the differences of the units of one pipeline."""

    def __init__(self, sources, targets, mappers, waiter: LagWaiter, rounds: int = 3) -> None:
        self.sources = sources  # unit -> source TableReader (all the pipeline's source)
        self.targets = targets  # unit -> target TableReader
        self.mappers = mappers  # unit -> RowMapper
        self.waiter = waiter
        self.rounds = max(0, rounds)

    def settle(self, results: list[UnitResult]) -> None:
        """Re-check every result's differences until none is left or the rounds are used up."""
        for round_ in range(self.rounds):
            pending = [r for r in results if r.differences]
            if not pending:
                return
            caught_up = self.waiter.wait()
            for result in pending:
                result.differences, _ = self.recheck(result)
            log.info(
                "re-check %d (%s): %d row(s) still differ",
                round_ + 1,
                "after the pipeline caught up" if caught_up else "pipeline not advancing",
                sum(len(r.differences) for r in results),
            )
            if not caught_up and round_ >= 1:
                return  # nothing is replicating: the differences are real

    def recheck(
        self, result: UnitResult
    ) -> tuple[dict[tuple, Difference], dict[tuple, tuple[int, EventData]]]:
        """(remaining differences, the source's current expected rows) of ``result``."""
        unit, diffs = result.unit, list(result.differences.values())
        source, target, mapper = self.sources[id(unit)], self.targets[id(unit)], self.mappers[id(unit)]
        before = expected_by_keys(unit, source, mapper, diffs)
        key_positions = [unit.columns.index(k) for k in unit.key]
        actual = {
            canonical([row[i] for i in key_positions]): row
            for row in target.read_keys(
                unit.schema, unit.table, unit.columns, unit.key, [d.key for d in diffs]
            )
        }
        after = expected_by_keys(unit, source, mapper, diffs)
        remaining: dict[tuple, Difference] = {}
        for ck, diff in result.differences.items():
            row = actual.get(ck)
            if any(self._agrees(row, side.get(ck), mapper) for side in (before, after)):
                continue
            now = after.get(ck)
            if now is None:
                remaining[ck] = Difference(EXTRA, diff.key)
            else:
                kind = MISSING if row is None else DIFFERENT
                remaining[ck] = Difference(kind, diff.key, now[0], diff.source_key or diff.key)
        return remaining, after

    @staticmethod
    def _agrees(row, expected, mapper) -> bool:
        if row is None or expected is None:
            return row is None and expected is None
        return same_row(mapper.row_of(expected[1]), row)

    def repair(self, result: UnitResult, load_stage: LoadStage) -> int:
        """Load the source's current rows for ``result``'s differences (delete target-only rows)."""
        unit = result.unit
        if not result.differences:
            return 0
        _, current = self.recheck(result)
        items = []
        for ck, diff in result.differences.items():
            now = current.get(ck)
            if now is not None:
                index, event = now
                items.append((unit.target_source, unit.contributors[index].pair.push_weight, event))
            else:
                keys = dict(zip(unit.key, diff.key))
                items.append(
                    (
                        unit.target_source,
                        unit.contributors[0].pair.push_weight,
                        EventData(
                            unit.schema, unit.table, EventType.DELETE, keys, hints=frozenset({Hint.VERIFY})
                        ),
                    )
                )
        load_stage.load(items)
        return len(items)

"""One unit compared chunk by chunk: server-side checksums first, rows only where a chunk differs.

Chunks are key ranges ``(lower, upper]`` cut on the source side (``chunk_rows`` rows of each source
table at most), and the same range is read on the target. When the unit's checksums can agree (no row
filter, no EventProcessor) each side's server computes count and checksum of the range; equal pairs
mean an equal chunk. Otherwise — or when they differ — both sides' rows of the range are read: source rows
go through Extract and Transform and are matched to target rows by key; target rows are read in pages,
so a target full of extra rows never has to fit in memory.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from attrs import define, field

from otter_core.contracts import TableReader
from otter_core.verify.units import RowMapper, Unit, canonical, same_row

MISSING, EXTRA, DIFFERENT = "missing", "extra", "different"
KINDS = (MISSING, EXTRA, DIFFERENT)


@define
class Difference:
    """A row that differs: ``key`` on the target; ``source_key`` and ``contributor`` (index in the unit)
    when a source row should be there."""

    kind: str
    key: tuple
    contributor: int | None = None
    source_key: tuple | None = None


@define
class UnitResult:
    unit: Unit
    source_rows: int = 0
    target_rows: int = 0
    chunks: int = 0
    chunks_read: int = 0  # chunks whose rows were read (checksums differed or not comparable)
    seconds: float = 0.0
    differences: dict[tuple, Difference] = field(factory=dict)  # canonical target key -> difference
    found: dict[str, int] = field(factory=dict)  # counts after the re-checks
    repaired: int = 0
    error: str = ""

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(KINDS, 0)
        for diff in self.differences.values():
            counts[diff.kind] += 1
        return counts

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": ", ".join(c.full_name for c in self.unit.contributors),
            "target": f"{self.unit.target_source}:{self.unit.full_name}",
            "source_rows": self.source_rows,
            "target_rows": self.target_rows,
            "chunks": self.chunks,
            "chunks_read": self.chunks_read,
            "seconds": round(self.seconds, 3),
            "found": self.found or self.counts(),
            **self.counts(),
            "repaired": self.repaired,
            "error": self.error,
        }


class UnitVerifier:
    """Walks one unit's key space and records its differences in a ``UnitResult``."""

    def __init__(
        self, unit: Unit, source: TableReader, target: TableReader, mapper: RowMapper, chunk_rows: int
    ) -> None:
        self.unit = unit
        self.source = source
        self.target = target
        self.mapper = mapper
        self.chunk_rows = max(1, int(chunk_rows))
        self.result = UnitResult(unit)
        self._key_positions = [unit.columns.index(k) for k in unit.key]

    def run(self) -> UnitResult:
        started = time.monotonic()
        lower: tuple | None = None
        # the target's checksum of a chunk is computed while the source's is (two servers, one wait)
        with ThreadPoolExecutor(1, thread_name_prefix="verify-target") as self._target_side:
            while True:
                upper = self._boundary(lower)
                self._compare(lower, upper)
                self.result.chunks += 1
                if upper is None:
                    break
                lower = upper
        self.result.seconds = time.monotonic() - started
        return self.result

    def _boundary(self, lower: tuple | None) -> tuple | None:
        """The smallest key that ends a chunk of ``chunk_rows`` rows in some source table (None: the last
        chunk, open-ended, also takes every target row beyond the sources' last key)."""
        ends = [
            self.source.nth_key(c.schema, c.table, c.key, lower, self.chunk_rows)
            for c in self.unit.contributors
        ]
        present = [e for e in ends if e is not None]
        return min(present) if present else None

    def _compare(self, lower: tuple | None, upper: tuple | None) -> None:
        unit = self.unit
        if unit.exact:
            target = self._target_side.submit(
                self.target.chunk_checksum, unit.schema, unit.table, unit.columns, unit.key, lower, upper
            )
            count, checksum = 0, 0
            for c in unit.contributors:
                n, x = self.source.chunk_checksum(c.schema, c.table, c.sums, c.key, lower, upper)
                count, checksum = count + n, checksum ^ x
            t_count, t_checksum = target.result()
            self.result.source_rows += count
            self.result.target_rows += t_count
            if (count, checksum) == (t_count, t_checksum):
                return
        self._read_rows(lower, upper, count_rows=not unit.exact)

    def _read_rows(self, lower: tuple | None, upper: tuple | None, count_rows: bool) -> None:
        unit = self.unit
        self.result.chunks_read += 1
        expected: dict[tuple, tuple[int, tuple, Any]] = {}
        for index, c in enumerate(unit.contributors):
            rows = self.source.read_range(c.schema, c.table, c.columns, c.key, lower, upper, None)
            if count_rows:
                self.result.source_rows += len(rows)
            for ck, (source_key, event) in self.mapper.expected(c, rows).items():
                expected[ck] = (index, source_key, event)
        page_lower = lower
        while True:
            page = self.target.read_range(
                unit.schema, unit.table, unit.columns, unit.key, page_lower, upper, self.chunk_rows
            )
            if count_rows:
                self.result.target_rows += len(page)
            for row in page:
                key = tuple(row[i] for i in self._key_positions)
                ck = canonical(key)
                hit = expected.pop(ck, None)
                if hit is None:
                    self.result.differences[ck] = Difference(EXTRA, key)
                elif not same_row(self.mapper.row_of(hit[2]), row):
                    self.result.differences[ck] = Difference(DIFFERENT, key, hit[0], hit[1])
            if len(page) < self.chunk_rows:
                break
            page_lower = tuple(page[-1][i] for i in self._key_positions)
        for ck, (index, source_key, event) in expected.items():
            key = tuple(event.keys[k] for k in unit.key)
            self.result.differences[ck] = Difference(MISSING, key, index, source_key)


def expected_by_keys(
    unit: Unit, source: TableReader, mapper: RowMapper, diffs: Sequence[Difference]
) -> dict[tuple, tuple[int, Any]]:
    """canonical target key -> (contributor index, expected target event) for the rows of ``diffs`` as the
    source has them now. A target-only row is looked up in every source table by its own key values."""
    out: dict[tuple, tuple[int, Any]] = {}
    for index, c in enumerate(unit.contributors):
        keys = [d.source_key for d in diffs if d.contributor == index and d.source_key is not None]
        keys += [d.key for d in diffs if d.contributor is None]
        if not keys:
            continue
        rows = source.read_keys(c.schema, c.table, c.columns, c.key, keys)
        for ck, (_source_key, event) in mapper.expected(c, rows).items():
            out[ck] = (index, event)
    return out

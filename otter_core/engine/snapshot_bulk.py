"""The initial load's bulk path: a chunk travels to the loader as one block, not one EventData per row.

For a table whose pair needs no per-row work (no row filter, EventProcessor, file resolver, column
mapping or rename, conflict policy; no two-way marks, conflict checks or back-queries in the pipeline)
the snapshot emits the chunk's rows as one ``ChunkEvent`` in the high watermark's transaction, carrying
the rows as the source plugin read them (``ChunkBlock.packed``: for MySQL the row packets). Extract and
Transform pass it unchanged (the pair is plain), and ``LoadStage`` hands it to the loader's
``load_chunk`` (``BulkLoader``) before the rest of the batch, split over ``load_pool_size`` connections
like any other phase. A batch is acked only after both, as before.

Loading the block before the batch's other rows keeps the row path's result: the chunk holds no key
changed between its watermarks, every change before the low watermark is already in the rows it read,
and every change after the high watermark is in the rest of the batch (or in a later batch), applied
after it. A loader without ``load_chunk``, a block it refuses (None) or a deterministic error sends the
block's rows through the row path (``expand``), which names a refused row and honours
``skip_load_exception``; a transient error fails the batch (retried like any other).
``OTTER_SNAPSHOT_BULK=0`` turns the bulk path off.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from attrs import frozen

from otter_core.engine.snapshot_events import chunk_builder
from otter_core.errors import TRANSIENT, error_class
from otter_core.model import EventData, EventType, Hint, Pipeline

if TYPE_CHECKING:
    from otter_core.engine.load import LoadStage

log = logging.getLogger("otter.snapshot")
ENV_SWITCH = "OTTER_SNAPSHOT_BULK"
CHUNK_KEY = "\0chunk"  # the block's key in merge and plan: its tag (never a column name)
MIN_PART_ROWS = 500
Item = tuple[str, int, EventData]


@runtime_checkable
class BulkLoader(Protocol):
    """A loader that writes a block's rows ``start``..``end`` in one transaction on ``slot``; None: the
    block takes the row path."""

    def load_chunk(self, block: Any, start: int, end: int, slot: int) -> int | None: ...


class ChunkBlock:
    """A chunk's rows as the source plugin packed them: ``packed`` has ``count``, ``rows()`` (tuples in
    ``columns`` order) and whatever the plugin's loader reads (``raw``, ``lits`` for MySQL); ``skip``
    holds the numbers of the rows changed between the watermarks, which are not loaded."""

    __slots__ = ("schema", "table", "columns", "key", "packed", "skip")

    def __init__(
        self,
        schema: str,
        table: str,
        columns: tuple[str, ...],
        key: tuple[str, ...],
        packed: Any,
        skip: frozenset[int],
    ) -> None:
        self.schema, self.table, self.columns, self.key = schema, table, columns, key
        self.packed, self.skip = packed, skip

    def __getstate__(self) -> tuple:
        return (self.schema, self.table, self.columns, self.key, self.packed, self.skip)

    def __setstate__(self, state: tuple) -> None:
        self.schema, self.table, self.columns, self.key, self.packed, self.skip = state

    @property
    def rows(self) -> int:
        """Rows to load (the chunk's minus the skipped ones)."""
        return self.packed.count - len(self.skip)


@frozen
class ChunkEvent(EventData):
    """An INSERT standing for a whole chunk (``block``); its key is the chunk's tag."""

    block: Any = None

    def __reduce__(self) -> tuple:
        return (ChunkEvent, (*EventData.__reduce__(self)[1], self.block))


def bulk_eligible(pipeline: Pipeline, schema: str, table: str) -> bool:
    """The table's chunks may travel as blocks: one plain pair, nothing in the pipeline that reads rows."""
    if os.environ.get(ENV_SWITCH, "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    params = pipeline.parameters
    if pipeline.detects_conflicts or pipeline.marks_loopback or params.sync_consistency == "media":
        return False
    pairs = pipeline.pair_for(schema, table)
    if len(pairs) != 1:
        return False
    pair = pairs[0]
    return (
        not pair.processors
        and not pair.filter
        and not pair.file_resolver
        and not pair.column_pairs
        and not pair.column_groups
        and pair.conflict is None
        and pair.target_name(schema, table) == (schema, table)
    )


def chunk_event(template: EventData, tag: str, block: ChunkBlock, size: int) -> ChunkEvent:
    """The block as an event of the high watermark's transaction (``template``'s fields)."""
    return ChunkEvent(
        template.schema,
        template.table,
        EventType.INSERT,
        {CHUNK_KEY: tag},
        {},
        None,
        frozenset(),
        template.execute_time,
        template.position,
        size,
        None,
        template.hints,
        (),
        None,
        block,
    )


def expand(event: ChunkEvent) -> list[EventData]:
    """The block's rows as the row path's INSERT events (what the snapshot emits without the bulk path)."""
    block: ChunkBlock = event.block
    rows = block.packed.rows()
    if block.skip:
        rows = [row for i, row in enumerate(rows) if i not in block.skip]
    template = EventData(
        event.schema,
        event.table,
        EventType.INSERT,
        {},
        {},
        None,
        frozenset(),
        event.execute_time,
        event.position,
        max(1, event.size // max(1, len(rows))),
        None,
        frozenset({Hint.SNAPSHOT}),
    )
    positions = [block.columns.index(k) for k in block.key]
    others = [i for i, c in enumerate(block.columns) if c not in set(block.key)]
    out: list[EventData] = []
    build = chunk_builder(template, positions, block.key, others, [block.columns[i] for i in others])
    build(rows, set(), out, tuple)
    return out


def split_chunks(items: Sequence[Item]) -> tuple[list[Item], list[Item]]:
    """(the other items, the ChunkEvent items) of a batch."""
    rest: list[Item] = []
    chunks: list[Item] = []
    for item in items:
        (chunks if type(item[2]) is ChunkEvent else rest).append(item)
    return rest, chunks


def part_bounds(count: int, pool_size: int) -> list[tuple[int, int]]:
    """``count`` rows in contiguous runs, one per connection (at least ``MIN_PART_ROWS`` rows each)."""
    parts = max(1, min(pool_size, count // MIN_PART_ROWS))
    return [(count * i // parts, count * (i + 1) // parts) for i in range(parts)]


def load_chunks(stage: LoadStage, chunks: Sequence[Item]) -> tuple[int, list[Item]]:
    """Load each block through its loader's bulk entry point; (rows written, row-path items for the
    blocks that must take the row path). A transient error raises (the batch is retried)."""
    rows = 0
    fallback: list[Item] = []
    for target, weight, event in chunks:
        assert isinstance(event, ChunkEvent)
        block: ChunkBlock = event.block
        loader = stage._loader(target)
        written = _load_block(stage, target, loader, block) if isinstance(loader, BulkLoader) else None
        if written is None:
            fallback.extend((target, weight, e) for e in expand(event))
        else:
            rows += written
    return rows, fallback


def _load_block(stage: LoadStage, target: str, loader: BulkLoader, block: ChunkBlock) -> int | None:
    bounds = part_bounds(block.packed.count, stage.pipeline.parameters.load_pool_size)
    results: list[int | None] = []
    errors: list[Exception] = []
    if len(bounds) == 1:
        try:
            results.append(loader.load_chunk(block, 0, bounds[0][1], 0))
        except Exception as exc:
            errors.append(exc)
    else:
        pool = stage.pools[target]
        futures = [pool.submit(loader.load_chunk, block, s, e, slot) for slot, (s, e) in enumerate(bounds)]
        for future in futures:  # wait for all, then judge
            try:
                results.append(future.result())
            except Exception as exc:
                errors.append(exc)
    transient = [e for e in errors if error_class(e) == TRANSIENT]
    if transient:
        raise transient[0]
    if errors:
        log.warning(
            "[%s] initial load of %s.%s: a chunk's bulk upsert failed (%s); its rows go through the row path",
            stage.pipeline.name,
            block.schema,
            block.table,
            errors[0],
        )
        return None
    if any(r is None for r in results):
        return None
    return sum(r for r in results if r is not None)

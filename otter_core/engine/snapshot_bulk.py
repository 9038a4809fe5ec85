"""The initial load's bulk path: a chunk travels to the loader as one block, not one EventData per row.

For a table whose pair needs no per-row work (no row filter, EventProcessor, file resolver, column
mapping or rename, conflict policy; no two-way marks, conflict checks or back-queries in the pipeline)
the snapshot emits the chunk's rows as one ``ChunkEvent`` in the high watermark's transaction, carrying
the rows as the source plugin read them (``ChunkBlock.packed``: for MySQL the row packets). Extract and
Transform pass it unchanged (the pair is plain), and ``LoadStage`` hands it to the loader's
``load_chunk`` (``BulkLoader``) before the rest of the batch: all of a batch's blocks at the same time,
their parts over ``load_pool_size`` connections (``_load_blocks``). A batch is acked only after both.

Loading the block before the batch's other rows keeps the row path's result: the chunk holds no key
changed between its watermarks, every change before the low watermark is already in the rows it read,
and every change after the high watermark is in the rest of the batch (or in a later batch), applied
after it. A loader without ``load_chunk``, a block it refuses (None) or a deterministic error sends the
block's rows through the row path (``expand``), which names a refused row and honours
``skip_load_exception``; a transient error fails the batch (retried like any other).
``OTTER_SNAPSHOT_BULK=0`` turns the bulk path off.
"""

from __future__ import annotations

import collections
import logging
import os
import threading
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
    """Load every block of the batch through its loader's bulk entry point, all at once (``_load_blocks``);
    (rows written, row-path items for the blocks that must take the row path). A transient error raises
    (the batch is retried)."""
    rows = 0
    fallback: list[Item] = []
    by_target: dict[str, list[tuple[int, ChunkEvent]]] = {}
    for target, weight, event in chunks:
        assert isinstance(event, ChunkEvent)
        by_target.setdefault(target, []).append((weight, event))
    for target, items in by_target.items():
        loader = stage._loader(target)
        blocks = [event.block for _, event in items]
        results = (
            _load_blocks(stage, target, loader, blocks)
            if isinstance(loader, BulkLoader)
            else [None] * len(blocks)
        )
        for (weight, event), written in zip(items, results):
            if written is None:
                fallback.extend((target, weight, e) for e in expand(event))
            else:
                rows += written
    return rows, fallback


def _load_blocks(
    stage: LoadStage, target: str, loader: BulkLoader, blocks: list[ChunkBlock]
) -> list[int | None]:
    """Rows written per block (None: it takes the row path). The blocks' parts form one queue that up to
    ``load_pool_size`` workers take from, each on its own connection (slot), so the target works on
    several chunks (of one table or of several) at the same time instead of one chunk after another with
    a wait for the slowest part of each. Every part is its own transaction, as before; all are committed
    (or failed) before this returns, i.e. before the batch's other rows and its ack. A block is split
    into parts only as far as needed to give every connection work."""
    pool_size = stage.pipeline.parameters.load_pool_size
    per_block = max(1, -(-pool_size // len(blocks)))
    pieces = collections.deque(
        (n, start, end)
        for n, block in enumerate(blocks)
        for start, end in part_bounds(block.packed.count, per_block)
    )
    written = [0] * len(blocks)
    refused = [False] * len(blocks)
    errors: list[list[Exception]] = [[] for _ in blocks]
    lock = threading.Lock()

    def work(slot: int) -> None:
        while True:
            try:
                n, start, end = pieces.popleft()
            except IndexError:
                return
            if refused[n] or errors[n]:
                continue  # the block takes the row path: its other parts need not be loaded here
            try:
                result = loader.load_chunk(blocks[n], start, end, slot)
            except Exception as exc:
                errors[n].append(exc)
                continue
            with lock:
                if result is None:
                    refused[n] = True
                else:
                    written[n] += result

    workers = min(pool_size, len(pieces))
    if workers <= 1:
        work(0)
    else:
        pool = stage.pools[target]
        for future in [pool.submit(work, slot) for slot in range(workers)]:
            future.result()  # wait for all; ``work`` keeps its errors per block
    transient = [e for errs in errors for e in errs if error_class(e) == TRANSIENT]
    if transient:
        raise transient[0]
    results: list[int | None] = []
    for n, block in enumerate(blocks):
        if errors[n]:
            log.warning(
                "[%s] initial load of %s.%s: a chunk's bulk load failed (%s); its rows go through the row path",
                stage.pipeline.name,
                block.schema,
                block.table,
                errors[n][0],
            )
        results.append(None if errors[n] or refused[n] else written[n])
    return results

"""snapshot_bulk: how a chunk block is split over connections, told apart in a batch, expanded into the
row path's events, and counted in the status (the loading itself: plugins/otter-mysql test_bulk_load)."""

from __future__ import annotations

import pickle

from otter_core.engine.snapshot_bulk import ChunkBlock, chunk_event, expand, part_bounds, split_chunks
from otter_core.engine.stats import count_by_table
from otter_core.model import EventData, EventType, Hint, Position


class Rows:
    """What a source plugin packs a chunk into, reduced to what the core reads: ``count`` and ``rows()``."""

    def __init__(self, rows: list[tuple]) -> None:
        self._rows, self.count = rows, len(rows)

    def rows(self) -> list[tuple]:
        return list(self._rows)


def block_event(rows: list[tuple], skip: frozenset[int] = frozenset()) -> EventData:
    template = EventData(
        "s", "t", EventType.INSERT, position=Position("b.1", 4), hints=frozenset({Hint.SNAPSHOT})
    )
    return chunk_event(template, "tag", ChunkBlock("s", "t", ("v", "id"), ("id",), Rows(rows), skip), 100)


def test_parts_are_contiguous_cover_every_row_and_keep_small_chunks_whole() -> None:
    assert part_bounds(10_000, 4) == [(0, 2500), (2500, 5000), (5000, 7500), (7500, 10_000)]
    assert part_bounds(999, 4) == [(0, 999)]
    assert part_bounds(1500, 4) == [(0, 500), (500, 1000), (1000, 1500)]
    assert part_bounds(0, 4) == [(0, 0)]


def test_blocks_are_split_from_the_other_items_in_order() -> None:
    row = EventData("s", "t", EventType.UPDATE, {"id": 1}, {"v": "x"})
    block = block_event([("a", 1)])
    rest, chunks = split_chunks([("dst", 5, row), ("dst", 5, block), ("dst", 5, row)])
    assert [e for _, _, e in chunks] == [block] and [e for _, _, e in rest] == [row, row]


def test_expand_gives_the_row_paths_events_without_the_skipped_rows() -> None:
    events = expand(block_event([("a", 1), ("b", 2), ("c", 3)], skip=frozenset({1})))
    assert [(e.keys, e.columns) for e in events] == [({"id": 1}, {"v": "a"}), ({"id": 3}, {"v": "c"})]
    assert all(e.event_type is EventType.INSERT and e.hints == {Hint.SNAPSHOT} for e in events)
    assert all(e.position == Position("b.1", 4) for e in events)


def test_a_block_survives_pickling_between_stages() -> None:
    event = block_event([("a", 1)])
    copy = pickle.loads(pickle.dumps(event))
    assert type(copy) is type(event) and copy.keys == event.keys and copy.block.rows == 1


def test_the_status_counts_a_blocks_rows_not_one_insert() -> None:
    row = EventData("s", "t", EventType.INSERT, {"id": 9}, {"v": "z"})
    block = block_event([("a", 1), ("b", 2), ("c", 3)], skip=frozenset({0}))
    assert count_by_table([row, block, row]) == {"s.t": {"I": 4, "U": 0, "D": 0}}

"""snapshot_events.chunk_builder: a chunk's rows as the INSERT events the snapshot emits."""

from __future__ import annotations

import datetime

from otter_core.engine.snapshot_events import chunk_builder
from otter_core.engine.snapshot_plan import normalize_key
from otter_core.model import EventData, EventType, Hint, Position


def test_rows_become_template_events_and_keys_changed_between_the_watermarks_are_left_out() -> None:
    position = Position("mysql-bin.000002", 4242, timestamp=17)
    template = EventData(
        "shop", "lines", EventType.INSERT, {}, {}, None, frozenset(), 17.0, position, 99, None,
        frozenset({Hint.SNAPSHOT}),
    )  # fmt: skip
    # a composite key in the middle of the row; column names a generated loop must not take for code
    columns = ("note's", "order_id", "line", 'it"em', "when")
    rows = [
        ("a", 1, 1, b"\x00", datetime.datetime(2024, 1, 1)),
        ("b", 1, 2, None, datetime.datetime(2024, 1, 2)),
        ("c", 2, 1, b"x", None),
    ]
    out: list[EventData] = [template]  # events already in the transaction stay first
    build = chunk_builder(template, [1, 2], ("order_id", "line"), [0, 3, 4], ["note's", 'it"em', "when"])
    build(rows, {(1, 2)}, out, normalize_key)
    assert out[0] is template
    expected = [
        EventData(
            "shop",
            "lines",
            EventType.INSERT,
            {"order_id": o, "line": n},
            {columns[0]: a, columns[3]: b, columns[4]: w},
            None,
            frozenset(),
            17.0,
            position,
            99,
            None,
            frozenset({Hint.SNAPSHOT}),
        )  # fmt: skip
        for a, o, n, b, w in (rows[0], rows[2])
    ]
    assert out[1:] == expected
    assert [e.key_tuple for e in out[1:]] == [(1, 1), (2, 1)]
    assert out[1].files == () and out[1].old_columns is None and out[1].updated == frozenset()
    with_nothing_changed: list[EventData] = []
    build(rows, set(), with_nothing_changed, normalize_key)
    assert len(with_nothing_changed) == 3

"""The initial load's state: a chunk counts as done only once the acked position passed it."""

import datetime
import decimal

import yaml

from otter_core.engine.snapshot_plan import normalize_key
from otter_core.engine.snapshot_state import (
    SnapshotStore,
    decode_key,
    encode_key,
    position_order,
    read_state,
    request_snapshot,
)
from otter_core.model import Position


def pos(n: int, file: str = "mysql-bin.000001") -> Position:
    return Position(file, n)


def adopted(tmp_path, tables=("s.a", "s.b")) -> SnapshotStore:
    request_snapshot(tmp_path, "ch", "p", chunk_rows=2)
    store = SnapshotStore(tmp_path, "ch", "p")
    store.adopt(store.request_changed(), list(tables), {t: 4 for t in tables})
    return store


def test_positions_order_by_file_then_offset_and_longer_names_are_later():
    assert position_order(pos(900)) < position_order(pos(100, "mysql-bin.000002"))
    assert position_order(pos(5, "mysql-bin.999999")) < position_order(pos(4, "mysql-bin.1000000"))
    assert position_order(None) < position_order(pos(4))


def test_keys_of_every_type_survive_the_state_file():
    key = (
        1,
        "x",
        decimal.Decimal("1.50"),
        datetime.datetime(2024, 1, 2, 3, 4, 5, 6),
        datetime.date(2024, 1, 2),
        datetime.timedelta(hours=-3, microseconds=7),
        b"\x00\xff",
        None,
    )
    assert decode_key(encode_key(key)) == key
    assert decode_key(None) is None


def test_a_chunk_is_done_only_when_the_ack_reaches_its_position(tmp_path):
    store = adopted(tmp_path)
    store.record_chunk("s.a", (2,), 2, False, pos(100))
    store.record_chunk("s.a", (4,), 2, True, pos(200))
    assert store.confirm(pos(150))
    assert store.state["confirmed"]["s.a"] == {"upper": [2], "rows": 2, "done": False}
    assert store.next_chunk_start() == ("s.b", None)  # chunks in flight count for what to read next
    assert not store.confirm(pos(150))
    assert store.confirm(pos(200))
    assert store.state["confirmed"]["s.a"]["done"] and store.state["state"] == "running"


def test_a_restart_forgets_the_chunks_after_the_acked_position(tmp_path):
    store = adopted(tmp_path)
    store.record_chunk("s.a", (2,), 2, False, pos(100))
    store.record_chunk("s.a", (4,), 2, True, pos(200))
    store.record_chunk("s.b", (2,), 2, False, pos(300))
    restarted = SnapshotStore(tmp_path, "ch", "p")  # what a new process reads from the file
    restarted.resume(pos(120))
    assert restarted.next_chunk_start() == ("s.a", (2,))
    assert restarted.state["pending"] == []
    assert restarted.state["resumes"][-1]["table"] == "s.a"
    assert read_state(tmp_path, "ch", "p")["confirmed"]["s.a"]["rows"] == 2


def test_the_chunks_of_the_first_tables_alternate_and_each_table_resumes_after_its_own_ack(tmp_path):
    store = adopted(tmp_path, tables=("s.a", "s.b", "s.c"))
    steps = [  # what next_chunk_start(2) says, then the chunk read there: upper key, last, position
        (("s.a", None), (2,), False, 100),
        (("s.b", None), (2,), False, 110),
        (("s.a", (2,)), (4,), True, 120),  # s.a is read to its end
        (("s.b", (2,)), (4,), False, 130),  # the open tables are now s.b and s.c
        (("s.c", None), (2,), False, 140),
        (("s.b", (4,)), (6,), False, 150),
    ]
    for expected, upper, last, at in steps:
        assert store.next_chunk_start(2) == expected
        store.record_chunk(expected[0], upper, 2, last, pos(at))
    assert store.next_chunk_start(2) == ("s.c", (2,))
    assert store.next_chunk_start() == ("s.b", (6,))  # one at a time: the first open table of the plan
    restarted = SnapshotStore(tmp_path, "ch", "p")  # killed: acked up to s.b's first chunk
    restarted.resume(pos(115))
    assert restarted.open_tables(3) == [("s.a", (2,)), ("s.b", (2,)), ("s.c", None)]
    assert restarted.next_chunk_start(2) == ("s.a", (2,))


def test_the_load_is_done_when_every_table_is_acked(tmp_path):
    store = adopted(tmp_path)
    store.record_chunk("s.a", (1,), 1, True, pos(100))
    store.record_chunk("s.b", None, 0, True, pos(110))
    assert store.next_chunk_start() is None
    store.confirm(pos(110))
    assert store.state["state"] == "done" and store.state["finished_at"]
    assert store.rows_done() == (1, 2)


def test_nothing_is_confirmed_before_the_first_ack(tmp_path):
    store = adopted(tmp_path)
    store.record_chunk("s.a", (2,), 2, False, pos(100))
    assert not store.confirm(None)
    assert not store.confirm(Position(None, None, gtid="0-1-5"))


def test_a_new_request_replaces_the_load_in_progress(tmp_path):
    store = adopted(tmp_path)
    assert store.request_changed() is None
    request_snapshot(tmp_path, "ch", "p", tables=["s.b"])
    store._request_mtime = 0  # the file time may not tick within one test
    assert store.request_changed()["tables"] == ["s.b"]


def test_keys_from_the_binlog_and_from_a_select_compare_equal():
    aware = datetime.datetime(2024, 1, 1, 12, tzinfo=datetime.timezone.utc)
    assert normalize_key([aware, bytearray(b"a"), 5]) == (datetime.datetime(2024, 1, 1, 12), b"a", 5)


def test_progress_counts_against_the_estimate_while_running_and_the_rows_once_done(tmp_path):
    from otter_core.engine.snapshot_plan import SnapshotProgress

    store = adopted(tmp_path, tables=("s.a",))  # estimated at 4 rows (statistics); the table holds 3
    progress = SnapshotProgress(store)
    store.record_chunk("s.a", (2,), 2, False, pos(100))
    store.confirm(pos(100))
    running = progress.as_dict()
    assert running["state"] == "running" and (running["rows"], running["rows_total"], running["percent"]) == (
        2,
        4,
        50.0,
    )
    store.record_chunk("s.a", (3,), 1, True, pos(200))
    store.confirm(pos(200))
    done = progress.as_dict()
    assert done["state"] == "done" and (done["rows"], done["rows_total"], done["percent"]) == (3, 3, 100.0)


def test_chunk_limit_cuts_only_chunks_of_wide_rows():
    from otter_core.engine.snapshot_plan import chunk_limit

    limit = 64 * 1024 * 1024  # the default memory_limit_bytes: 2.8 MB per chunk
    assert chunk_limit(10_000, 0, limit) == 10_000  # unknown width: chunk_rows
    assert chunk_limit(10_000, 150, limit) == 10_000
    assert chunk_limit(10_000, 16_384, limit) == 170
    assert chunk_limit(10_000, 64 * 1024 * 1024, limit) == 1  # a row wider than the budget: one per chunk


def test_otter_run_load_and_the_yaml_snapshot_section_share_one_default_chunk_size(tmp_path):
    from otter_core.config import load_config_text
    from otter_core.engine.snapshot_state import read_request
    from tests.unit.test_config import EXAMPLE

    request_snapshot(tmp_path, "ch", "p")  # otter-run load without --chunk-rows
    doc = yaml.safe_load(EXAMPLE)
    doc["channels"][0]["pipelines"][0]["snapshot"] = True
    pipeline = load_config_text(yaml.safe_dump(doc)).channels[0].pipelines[0]
    assert read_request(tmp_path, "ch", "p")["chunk_rows"] == pipeline.snapshot.chunk_rows == 20_000

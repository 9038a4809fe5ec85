"""The nine merge rules, key changes, and a property: merged load == sequential apply."""

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otter_core.load.merge import MERGED_TYPE, merge_events, merge_pair
from otter_core.load.plan import plan_load
from otter_core.model import EventData, EventType, Position

I, U, D = EventType.INSERT, EventType.UPDATE, EventType.DELETE


def ev(kind, key, value=None, updated=(), old_key=None):
    return EventData(
        "s",
        "t",
        kind,
        keys={"id": key},
        columns={"v": value},
        updated=frozenset(updated),
        old_keys={"id": old_key} if old_key is not None else None,
    )


def test_every_pair_of_kinds_has_a_rule():
    assert set(MERGED_TYPE) == {(a, b) for a in (I, U, D) for b in (I, U, D)}


def test_insert_then_update_merges_to_insert_with_latest_values():
    [merged] = merge_events([ev(I, 1, "a"), ev(U, 1, "b", {"v"})])
    assert (merged.event_type, merged.columns["v"]) == (I, "b")


def test_insert_then_delete_merges_to_delete():
    [merged] = merge_events([ev(I, 1, "a"), ev(D, 1, "a")])
    assert merged.event_type is D


def test_delete_then_insert_merges_to_insert():
    [merged] = merge_events([ev(D, 1, "a"), ev(I, 1, "c")])
    assert (merged.event_type, merged.columns["v"]) == (I, "c")


def test_update_then_update_unions_updated_columns():
    first = EventData("s", "t", U, keys={"id": 1}, columns={"a": 1, "b": 1}, updated=frozenset({"a"}))
    second = EventData("s", "t", U, keys={"id": 1}, columns={"a": 1, "b": 2}, updated=frozenset({"b"}))
    [merged] = merge_events([first, second])
    assert merged.event_type is U and merged.updated == {"a", "b"} and merged.columns == {"a": 1, "b": 2}


def test_key_change_becomes_delete_old_and_insert_new():
    merged = merge_events([ev(U, 2, "x", {"v"}, old_key=1)])
    assert [(e.event_type, e.keys["id"]) for e in merged] == [(D, 1), (I, 2)]


def test_different_tables_with_same_key_stay_apart():
    other = EventData("s", "other", I, keys={"id": 1}, columns={"v": 1})
    assert len(merge_events([ev(I, 1, "a"), other])) == 2


def test_plan_puts_lower_weight_first_and_deletes_before_upserts():
    items = [("dst", 5, ev(I, 1)), ("dst", 5, ev(D, 2)), ("dst", 1, ev(I, 3))]
    phases = plan_load(items, pool_size=2)
    described = [(s.weight, s.is_delete) for phase in phases for s in phase]
    assert described == [(1, False), (5, True), (5, False)]


def test_plan_splits_a_step_into_contiguous_runs_each_key_once():
    items = [("dst", 5, ev(I, k)) for k in range(2001)]
    [[step]] = plan_load(items, pool_size=4)
    runs = [[e.keys["id"] for e in part] for part in step.partitions]
    assert [len(run) for run in runs] == [500, 500, 500, 501]
    assert [k for run in runs for k in run] == list(range(2001))  # neighbouring keys share a connection


@pytest.mark.parametrize("rows, partitions", [(1, 1), (100, 1), (256, 1), (257, 2), (700, 3), (5000, 4)])
def test_a_small_batch_loads_in_one_partition(rows, partitions):
    [[step]] = plan_load([("dst", 5, ev(I, k)) for k in range(rows)], pool_size=4)
    assert len(step.partitions) == partitions
    assert sum(len(part) for part in step.partitions) == rows


@st.composite
def histories(draw):
    """A consistent change history of a small table (keys 0..5), including key changes."""
    state: dict[int, int] = {}
    events = []
    for _ in range(draw(st.integers(1, 30))):
        key = draw(st.integers(0, 5))
        value = draw(st.integers(0, 9))
        if key not in state:
            events.append(ev(I, key, value))
            state[key] = value
        elif draw(st.booleans()):
            events.append(ev(D, key, state.pop(key)))
        else:
            new_key = draw(st.integers(0, 5))
            if new_key != key and new_key not in state:
                events.append(ev(U, new_key, value, {"v"}, old_key=key))
                del state[key]
                state[new_key] = value
            else:
                events.append(ev(U, key, value, {"v"}))
                state[key] = value
    return events, state


def apply_idempotently(table: dict, events) -> None:
    for e in events:  # the loader's SQL semantics: upsert for I/U, delete-if-exists for D
        if e.event_type is D:
            table.pop(e.keys["id"], None)
        else:
            table[e.keys["id"]] = e.columns["v"]


@settings(max_examples=300, deadline=None)
@given(histories(), st.dictionaries(st.integers(0, 5), st.integers(0, 9)))
def test_merged_load_in_planned_order_equals_sequential_history(history, _unused):
    events, expected = history
    table: dict[int, int] = {}
    for phase in plan_load([("dst", 5, e) for e in merge_events(events)], pool_size=3, min_partition_rows=1):
        for step in phase:
            for part in step.partitions:
                apply_idempotently(table, part)
    assert table == expected


@settings(max_examples=100, deadline=None)
@given(histories())
def test_replaying_a_merged_batch_twice_changes_nothing(history):
    events, expected = history
    merged = merge_events(events)
    table: dict[int, int] = {}
    for _ in range(2):
        for phase in plan_load([("dst", 5, e) for e in merged], pool_size=2, min_partition_rows=1):
            for step in phase:
                for part in step.partitions:
                    apply_idempotently(table, part)
    assert table == expected


def _reference_merge(earlier: EventData, later: EventData) -> EventData:
    """merge_pair as it was written with attrs.evolve (no conflict detection): the fast path's oracle."""
    merged_type = MERGED_TYPE[(earlier.event_type, later.event_type)]
    if merged_type is U and earlier.event_type is U:
        updated = earlier.updated | later.updated
    elif merged_type is U:
        updated = frozenset(later.columns)
    else:
        updated = frozenset()
    return attrs.evolve(
        later,
        event_type=merged_type,
        updated=updated,
        hints=earlier.hints | later.hints,
        files=tuple(dict.fromkeys(earlier.files + later.files)),
    )


_KINDS = st.sampled_from([I, U, D])
_HINTS = st.frozensets(st.sampled_from(["remedy", "resolution"]), max_size=2)
_FILES = st.lists(st.sampled_from(["f1", "f2", "f3"]), max_size=3).map(tuple)


@st.composite
def _events(draw):
    return EventData(
        "s",
        "t",
        draw(_KINDS),
        keys={"id": 1},
        columns={"a": draw(st.integers(0, 3)), "b": draw(st.integers(0, 3))},
        updated=draw(st.frozensets(st.sampled_from(["a", "b"]))),
        execute_time=draw(st.floats(0, 10)),
        position=Position("bin.000001", draw(st.integers(4, 99)), "0-1-2", 7),
        size=draw(st.integers(0, 500)),
        hints=draw(_HINTS),
        files=draw(_FILES),
    )


@settings(max_examples=300, deadline=None)
@given(_events(), _events())
def test_merge_pair_equals_the_evolve_reference_field_for_field(earlier, later):
    merged = merge_pair(earlier, later)
    reference = _reference_merge(earlier, later)
    assert merged == reference
    assert attrs.astuple(merged, recurse=False) == attrs.astuple(reference, recurse=False)


def test_oltp_chain_of_one_key_builds_a_single_event():
    """sysbench oltp_write_only per transaction: UPDATE k, UPDATE c, DELETE, INSERT of the same id. Only
    U+U makes a new event; U+D and D+I take the later event as it is (events are immutable)."""
    first = EventData("s", "t", U, keys={"id": 7}, columns={"k": 2, "c": "a"}, updated=frozenset({"k"}))
    second = EventData("s", "t", U, keys={"id": 7}, columns={"k": 2, "c": "b"}, updated=frozenset({"c"}))
    delete = EventData("s", "t", D, keys={"id": 7}, columns={"k": 2, "c": "b"})
    insert = EventData("s", "t", I, keys={"id": 7}, columns={"k": 5, "c": "z"}, size=9)
    assert merge_pair(first, delete) is delete
    [merged] = merge_events([first, second, delete, insert])
    assert merged is insert
    both = merge_pair(first, second)
    assert both.updated == {"k", "c"} and both.columns == second.columns and both is not second


def test_merge_with_hints_or_files_copies_the_later_event():
    earlier = EventData("s", "t", D, keys={"id": 1}, hints=frozenset({"remedy"}), files=("f1",))
    later = EventData("s", "t", I, keys={"id": 1}, columns={"v": 1}, files=("f2", "f1"))
    merged = merge_pair(earlier, later)
    assert merged is not later and merged.hints == {"remedy"} and merged.files == ("f1", "f2")
    assert later.hints == frozenset() and later.files == ("f2", "f1")  # the inputs stay as they were


@settings(max_examples=300, deadline=None)
@given(_events(), _events(), st.booleans())
def test_merge_events_equals_merge_pair_for_every_pair(earlier, later, before_images):
    """merge_events' own shortcut (an INSERT or DELETE after anything) gives what merge_pair gives."""
    if before_images:  # conflict detection: merge_pair's _expected_before path
        earlier = attrs.evolve(earlier, old_columns={"a": 0, "b": 0})
        later = attrs.evolve(later, old_columns=dict(earlier.columns))
    [merged] = merge_events([earlier, later])
    expected = merge_pair(earlier, later)
    assert attrs.astuple(merged, recurse=False) == attrs.astuple(expected, recurse=False)


def test_a_delete_or_insert_after_anything_is_taken_without_merge_pair(monkeypatch):
    """sysbench's DELETE + INSERT of one id (and any I or D after an event of its key) is the later event
    as it is: merge_events takes it without calling merge_pair; U+U still goes through it."""
    import otter_core.load.merge as merge

    calls = []
    monkeypatch.setattr(merge, "merge_pair", lambda e, l: calls.append((e.event_type, l.event_type)) or l)
    delete = EventData("s", "t", D, keys={"id": 7}, columns={"k": 2})
    insert = EventData("s", "t", I, keys={"id": 7}, columns={"k": 5}, size=9)
    update = EventData("s", "t", U, keys={"id": 8}, columns={"k": 1}, updated=frozenset({"k"}))
    again = EventData("s", "t", U, keys={"id": 8}, columns={"k": 2}, updated=frozenset({"k"}))
    merged = merge.merge_events([delete, insert, update, again, insert, delete])
    assert calls == [(U, U)]
    assert merged[0] is delete and merged[1] is again and len(merged) == 2

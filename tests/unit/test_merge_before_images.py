"""Merging keeps the target state a change expects (conflict detection): the one before the first merged
event, unless a write outside the stream (a dropped loopback) broke the chain in between."""

from otter_core.load.merge import ABSENT_BEFORE, merge_events
from otter_core.model import EventData, EventType

I, U, D = EventType.INSERT, EventType.UPDATE, EventType.DELETE


def ev(kind, after=None, before=None):
    columns = dict(after if after is not None else before)
    old = dict(before) if before is not None else None
    return EventData("s", "t", kind, {"id": 1}, columns, old_columns=old)


def test_a_continuous_chain_expects_the_first_before_image():
    (merged,) = merge_events([ev(U, {"v": 2}, {"v": 1}), ev(U, {"v": 3}, {"v": 2})])
    assert merged.old_columns == {"v": 1} and merged.columns == {"v": 3}


def test_a_loopback_write_between_two_changes_makes_the_later_before_image_expected():
    (merged,) = merge_events(
        [ev(U, {"v": 2}, {"v": 1}), ev(U, {"v": 9}, {"v": 7})]
    )  # 2 -> 7 not in the stream
    assert merged.old_columns == {"v": 7}


def test_insert_then_delete_expects_no_row_unless_the_chain_broke():
    (gone,) = merge_events([ev(I, {"v": 1}), ev(D, before={"v": 1})])
    assert gone.event_type is D and ABSENT_BEFORE in gone.hints and gone.old_columns is None
    (broken,) = merge_events([ev(I, {"v": 1}), ev(D, before={"v": 5})])
    assert broken.event_type is D and ABSENT_BEFORE not in broken.hints and broken.old_columns == {"v": 5}


def test_delete_then_insert_expects_the_deleted_row():
    (merged,) = merge_events([ev(D, before={"v": 1}), ev(I, {"v": 2})])
    assert merged.event_type is I and merged.old_columns == {"v": 1}


def test_without_before_images_nothing_changes():
    plain = [EventData("s", "t", U, {"id": 1}, {"v": 2}), EventData("s", "t", U, {"id": 1}, {"v": 3})]
    (merged,) = merge_events(plain)
    assert merged.old_columns is None and not merged.hints


def test_delete_insert_delete_still_expects_the_first_deleted_row():
    (merged,) = merge_events(
        [ev(U, {"v": 2}, {"v": 1}), ev(D, before={"v": 2}), ev(I, {"v": 3}), ev(D, before={"v": 3})]
    )
    assert merged.event_type is D and merged.old_columns == {"v": 1} and ABSENT_BEFORE not in merged.hints


def test_a_change_that_went_through_no_row_also_accepts_no_row():
    from otter_core.load.merge import ABSENT_OK

    (merged,) = merge_events([ev(D, before={"v": 1}), ev(I, {"v": 2})])
    assert merged.old_columns == {"v": 1} and ABSENT_OK in merged.hints
    (updated,) = merge_events([ev(U, {"v": 2}, {"v": 1}), ev(U, {"v": 3}, {"v": 2})])
    assert ABSENT_OK not in updated.hints

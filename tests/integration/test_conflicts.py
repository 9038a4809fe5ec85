"""Conflict detection on a one-way pipeline: each kind is made by writing the target behind the pipeline's
back, then the source; the policy decides, retl.retl_conflict records it; manual parks and is resolved."""

import pytest

from otter_core.config import load_config_text
from otter_core.conflicts import list_conflicts, resolve_conflict, show_conflict
from otter_core.errors import ConfigError
from otter_core.testing.harness import pipeline_yaml, running, wait_caught_up

pytestmark = pytest.mark.usefixtures("clean_databases")
DDL = (
    "CREATE TABLE shop.t (id INT PRIMARY KEY, status VARCHAR(20), v INT, f FLOAT, "
    "ts TIMESTAMP(6) NULL, note VARCHAR(20) COLLATE utf8mb4_general_ci)"
)


def setup(src, dst, policy, **parameters):
    for server in (src, dst):
        server.execute("CREATE DATABASE shop", DDL)
    file, pos = src.binlog_position()
    text = pipeline_yaml(
        src, dst, [{"source": "shop.t", "conflict": policy}], start={"file": file, "pos": pos}, **parameters
    )
    return text, load_config_text(text)


def rows(server):
    return server.execute("SELECT id, status, v FROM shop.t ORDER BY id")


def log_of(dst):
    return dst.execute("SELECT kind, outcome, status, pk FROM retl.retl_conflict ORDER BY id")


def park_row_1(src, dst, runner):
    """Row 1 synced, changed on the target behind the pipeline, then on the source: a conflict."""
    src.execute("INSERT INTO shop.t (id, status, v) VALUES (1, 'a', 1)")
    wait_caught_up(runner, src)
    dst.execute("UPDATE shop.t SET status = 'target' WHERE id = 1")
    src.execute("UPDATE shop.t SET status = 'b' WHERE id = 1")
    wait_caught_up(runner, src)


def make_each_kind(src, dst, runner):
    """Rows 1-5 synced, then the target changed behind the pipeline, then the source: one conflict each."""
    src.execute(
        "INSERT INTO shop.t VALUES (1,'a',1,1.1,NOW(6),'x'), (2,'a',1,1.1,NOW(6),'x'), "
        "(3,'a',1,1.1,NOW(6),'x'), (4,'a',1,1.1,NOW(6),'x')"
    )
    wait_caught_up(runner, src)
    dst.execute(
        "INSERT INTO shop.t (id, status, v) VALUES (5, 'target', 7)",  # insert-existing (older v)
        "UPDATE shop.t SET status = 'target', v = 9 WHERE id = 1",  # update-changed (newer v)
        "DELETE FROM shop.t WHERE id = 2",  # update-missing
        "DELETE FROM shop.t WHERE id = 3",  # delete-missing
        "UPDATE shop.t SET status = 'target', v = 9 WHERE id = 4",
    )  # delete-changed (newer v)
    src.execute(
        "INSERT INTO shop.t (id, status, v) VALUES (5, 'source', 8)",
        "UPDATE shop.t SET status = 'source', v = 2 WHERE id IN (1, 2)",
        "DELETE FROM shop.t WHERE id IN (3, 4)",
    )
    wait_caught_up(runner, src)


def test_source_wins_applies_every_change_and_logs_each_kind(mariadb_source, mariadb_target, tmp_path):
    src, dst = mariadb_source, mariadb_target
    text, _ = setup(src, dst, "source_wins")
    with running(text, str(tmp_path / "state")) as runner:
        make_each_kind(src, dst, runner)
    assert rows(dst) == rows(src) == [(1, "source", 2), (2, "source", 2), (5, "source", 8)]
    assert sorted((kind, outcome, status) for kind, outcome, status, _ in log_of(dst)) == [
        ("delete-changed", "applied", "done"),
        ("delete-missing", "applied", "done"),
        ("insert-existing", "applied", "done"),
        ("update-changed", "applied", "done"),
        ("update-missing", "applied", "done"),
    ]


def test_newer_wins_keeps_the_target_row_with_the_greater_column(mariadb_source, mariadb_target, tmp_path):
    src, dst = mariadb_source, mariadb_target
    text, config = setup(src, dst, "newer_wins(v)")
    with running(text, str(tmp_path / "state")) as runner:
        make_each_kind(src, dst, runner)
    # 1 and 4: the target's v=9 beats the source's (2, and the delete's before image 1): kept;
    # 5: the source's v=8 beats 7: applied; 2: an update of a row the target deleted: the source's side (one-way)
    assert rows(dst) == [(1, "target", 9), (2, "source", 2), (4, "target", 9), (5, "source", 8)]
    outcomes = {(r.kind, r.outcome) for r in list_conflicts(config)}
    assert outcomes == {
        ("update-changed", "kept-target"),
        ("delete-changed", "kept-target"),
        ("insert-existing", "applied"),
        ("update-missing", "applied"),
        ("delete-missing", "applied"),
    }
    kept = next(r for r in list_conflicts(config) if r.kind == "update-changed")
    assert kept.key == {"id": 1} and kept.target_image["v"] == 9 and kept.source_image["v"] == 2
    assert kept.source_before["status"] == "a" and kept.policy == "newer_wins(v)" and kept.position


def test_a_target_equal_to_the_change_or_its_before_image_is_no_conflict(
    mariadb_source, mariadb_target, tmp_path
):
    """FLOAT, TIMESTAMP and a case-insensitive column: Python sees differences the server does not."""
    src, dst = mariadb_source, mariadb_target
    text, config = setup(src, dst, "manual")
    with running(text, str(tmp_path / "state")) as runner:
        src.execute("INSERT INTO shop.t VALUES (1, 'a', 1, 1.1, '2024-05-01 10:00:00.5', 'Note')")
        wait_caught_up(runner, src)
        dst.execute("UPDATE shop.t SET note = 'NOTE' WHERE id = 1")  # equal under the column's collation
        src.execute(
            "UPDATE shop.t SET status = 'b' WHERE id = 1",
            "INSERT INTO shop.t VALUES (2, 'x', 1, 2.5, NULL, NULL)",
        )
        dst.execute("INSERT INTO shop.t VALUES (3, 'same', 1, 0.3, NULL, NULL)")
        src.execute("INSERT INTO shop.t VALUES (3, 'same', 1, 0.3, NULL, NULL)")  # already there: no conflict
        wait_caught_up(runner, src)
    assert list_conflicts(config) == []
    assert rows(dst) == [(1, "b", 1), (2, "x", 1), (3, "same", 1)]


def test_manual_parks_the_row_and_later_changes_of_its_key_behind_it(
    mariadb_source, mariadb_target, tmp_path
):
    src, dst = mariadb_source, mariadb_target
    text, config = setup(src, dst, "manual")
    with running(text, str(tmp_path / "state")) as runner:
        park_row_1(src, dst, runner)
        src.execute(
            "UPDATE shop.t SET v = 5 WHERE id = 1",
            "INSERT INTO shop.t (id, status, v) VALUES (2, 'other', 1)",
        )
        wait_caught_up(runner, src)
        assert rows(dst) == [(1, "target", 1), (2, "other", 1)]  # row 1 waits; row 2 is not blocked
        first, behind = sorted(list_conflicts(config, status="parked"), key=lambda r: r.id)
        assert (first.kind, behind.kind, behind.parent_id) == ("update-changed", "behind", first.id)
        resolved = resolve_conflict(config, behind.id, "source", by="alice")
        assert (resolved.outcome, resolved.resolved_by) == ("resolved-source", "alice")
        assert rows(dst) == [(1, "b", 5), (2, "other", 1)]  # both parked changes, in order
        src.execute("UPDATE shop.t SET v = 6 WHERE id = 1")  # after the resolution: applied as usual
        wait_caught_up(runner, src)
    assert rows(dst) == rows(src) == [(1, "b", 6), (2, "other", 1)]
    assert list_conflicts(config, status="parked") == []
    assert show_conflict(config, first.id).status == "resolved"


@pytest.mark.parametrize(
    "action, image, expected",
    [
        ("target", None, [(1, "target", 1)]),
        ("image", {"status": "chosen", "v": 4}, [(1, "chosen", 4)]),
        ("image", None, []),
    ],
)
def test_resolving_keeps_the_target_or_writes_a_chosen_image(
    mariadb_source, mariadb_target, tmp_path, action, image, expected
):
    src, dst = mariadb_source, mariadb_target
    text, config = setup(src, dst, "manual")
    with running(text, str(tmp_path / "state")) as runner:
        park_row_1(src, dst, runner)
    (parked,) = list_conflicts(config, status="parked")
    assert resolve_conflict(config, parked.id, action, image).outcome == f"resolved-{action}"
    assert rows(dst) == expected
    with pytest.raises(ConfigError, match="not parked"):
        resolve_conflict(config, parked.id, "source")


def test_unknown_conflict_ids_are_explained(mariadb_source, mariadb_target):
    _, config = setup(mariadb_source, mariadb_target, "manual")
    with pytest.raises(ConfigError, match="expected TARGET:N"):
        show_conflict(config, "17")
    with pytest.raises(ConfigError, match="no source named 'nowhere'"):
        show_conflict(config, "nowhere:1")


def test_newer_wins_judges_a_merged_delete_by_the_row_it_removed(mariadb_source, mariadb_target, tmp_path):
    """Bench divergence (newer_wins, 2026-11-27): an update and a delete of one key merged into one DELETE, and
    its version was read from the state the chain expected first (older than the target's row), so the target
    kept a row the source had deleted at a newer version. Two-way, the last delete was home writing back a
    row's absence with the far side's own version: the far side kept the row for good."""
    src, dst = mariadb_source, mariadb_target
    text, config = setup(src, dst, "newer_wins(v)")
    with running(text, str(tmp_path / "state")) as runner:
        src.execute("INSERT INTO shop.t (id, status, v) VALUES (1, 'a', 1), (2, 'a', 1)")
        wait_caught_up(runner, src)
        dst.execute(
            "UPDATE shop.t SET status = 'target', v = 4 WHERE id = 1",  # older than what the source deletes
            "UPDATE shop.t SET status = 'source', v = 5 WHERE id = 2",
        )  # the very row the source deletes
        src.execute(
            "BEGIN",
            "UPDATE shop.t SET status = 'source', v = 5 WHERE id IN (1, 2)",
            "DELETE FROM shop.t WHERE id IN (1, 2)",
            "COMMIT",
        )  # one transaction: merged into one DELETE
        wait_caught_up(runner, src)
    assert rows(dst) == []
    assert sorted((r.key["id"], r.kind, r.outcome) for r in list_conflicts(config)) == [
        (1, "delete-changed", "applied"),
        (2, "delete-changed", "applied"),
    ]

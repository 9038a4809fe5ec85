"""Secondary UNIQUE keys: values that move from one row to another inside one batch reach the target
intact (an upsert must never land on another row through a unique key), one-way and two-way."""

import pytest

from otter_core.control import set_channel_state
from otter_core.testing.harness import pipeline_yaml, running, wait_caught_up, wait_paused
from otter_core.testing.harness import sync_one_transaction as sync_transaction
from otter_core.testing.twoway import SELECT_ROWS, make_table, twoway_yaml
from tests.integration.test_twoway import wait_for

pytestmark = pytest.mark.usefixtures("clean_databases")
TABLE = (
    "CREATE TABLE shop.u (id INT PRIMARY KEY, code INT NOT NULL, note VARCHAR(20), UNIQUE KEY by_code (code))"
)
SELECT = "SELECT * FROM shop.u ORDER BY id"


def sync_one_transaction(source, target, tmp_path, seed, statements, **parameters):
    """``seed`` on both servers, then ``statements`` as one source transaction, replicated."""
    for server in (source, target):
        server.execute("CREATE DATABASE shop", TABLE, *seed)
    return sync_transaction(source, target, str(tmp_path / "state"), ["shop.u"], statements, **parameters)


def test_a_value_freed_by_an_update_and_taken_by_an_insert(mariadb_source, mariadb_target, tmp_path):
    # the two inserts share a statement shape: grouped, the insert of row 2 would run before the update
    sync_one_transaction(
        mariadb_source,
        mariadb_target,
        tmp_path,
        ["INSERT INTO shop.u VALUES (1, 5, 'one')"],
        [
            "INSERT INTO shop.u VALUES (3, 30, 'three')",
            "UPDATE shop.u SET code = 6 WHERE id = 1",
            "INSERT INTO shop.u VALUES (2, 5, 'two')",
        ],
    )
    assert (
        mariadb_target.execute(SELECT)
        == mariadb_source.execute(SELECT)
        == [(1, 6, "one"), (2, 5, "two"), (3, 30, "three")]
    )


def test_two_rows_swap_their_values(mariadb_source, mariadb_target, tmp_path):
    # merged, the batch holds row 1 with 6 and row 2 with 5: no order of the two upserts avoids a clash
    sync_one_transaction(
        mariadb_source,
        mariadb_target,
        tmp_path,
        ["INSERT INTO shop.u VALUES (1, 5, 'one'), (2, 6, 'two')"],
        [
            "UPDATE shop.u SET code = 99 WHERE id = 1",
            "UPDATE shop.u SET code = 5 WHERE id = 2",
            "UPDATE shop.u SET code = 6, note = 'one!' WHERE id = 1",
        ],
    )
    assert mariadb_target.execute(SELECT) == mariadb_source.execute(SELECT) == [(1, 6, "one!"), (2, 5, "two")]


def test_values_reversed_over_rows_loaded_on_several_connections(mariadb_source, mariadb_target, tmp_path):
    # 2,000 rows in one batch are split over the pool's four connections: row 1's new value is held by
    # row 2000, which another connection rewrites at the same time
    seed = ["INSERT INTO shop.u SELECT seq, seq, CONCAT('n', seq) FROM shop.seq_1_to_2000"]
    stats = sync_one_transaction(
        mariadb_source,
        mariadb_target,
        tmp_path,
        seed,
        ["UPDATE shop.u SET code = code + 10000", "UPDATE shop.u SET code = 12001 - code"],
        batch_size=5000,
        load_pool_size=4,
    )
    assert mariadb_source.execute("SELECT MIN(code), MAX(code) FROM shop.u WHERE id = 1") == [(2000, 2000)]
    assert mariadb_target.execute(SELECT) == mariadb_source.execute(SELECT)
    assert stats.rows_loaded == 2000


def test_a_replay_over_a_target_that_is_ahead_converges(mariadb_source, mariadb_target, tmp_path):
    """After a crash the batches since the last ack run again over a target that has their effects: row 2
    takes code 5 (which row 1 holds on the target by then), then gives it back and is deleted."""
    for server in (mariadb_source, mariadb_target):
        server.execute("CREATE DATABASE shop", TABLE, "INSERT INTO shop.u VALUES (1, 1, 'one')")
    file, pos = mariadb_source.binlog_position()
    mariadb_source.execute("INSERT INTO shop.u VALUES (2, 5, 'two')")
    mariadb_source.execute(
        "BEGIN", "DELETE FROM shop.u WHERE id = 2", "UPDATE shop.u SET code = 5 WHERE id = 1", "COMMIT"
    )
    mariadb_target.execute("UPDATE shop.u SET code = 5 WHERE id = 1")  # what the lost run had loaded
    text = pipeline_yaml(
        mariadb_source, mariadb_target, ["shop.u"], start={"file": file, "pos": pos}, batch_size=1
    )  # one transaction per batch: row 2's insert is loaded on its own
    with running(text, str(tmp_path / "state")) as runner:
        wait_caught_up(runner, mariadb_source)
        assert runner.failures() == [] and runner.pipelines[0].stats.batches_loaded == 2
    assert mariadb_target.execute(SELECT) == mariadb_source.execute(SELECT) == [(1, 5, "one")]


def test_two_way_same_unique_value_written_on_both_sides_stops_and_names_the_rows(
    mariadb_source, mariadb_target, tmp_path
):
    """Each side gives code 5 to another row while the channel is paused: neither row may overwrite or
    remove the other. Both directions stop with an error naming the row in the way; once an operator
    deletes one of the two rows, the channel goes on and both sides converge."""
    a, b = mariadb_source, mariadb_target
    make_table(a, b)
    for server in (a, b):
        server.execute("ALTER TABLE shop.c ADD UNIQUE KEY by_amount (amount)")
    state = str(tmp_path / "state")
    with running(twoway_yaml(a, b, None, home=False), state) as runner:
        set_channel_state(state, "ab", "PAUSE")
        wait_paused(runner)
        a.execute("INSERT INTO shop.c VALUES (1, 'on-a', 5, 1)")
        b.execute("INSERT INTO shop.c VALUES (2, 'on-b', 5, 1)")
        set_channel_state(state, "ab", "START")
        wait_for(
            lambda: all("unique key by_amount" in p.stats.last_error for p in runner.pipelines),
            runner,
            what="both directions refused",
        )
        errors = [p.stats.last_error for p in runner.pipelines]
        assert "the row with id=2 on this side" in errors[0] and "the row with id=1 on this side" in errors[1]
        assert a.execute(SELECT_ROWS) == [(1, "on-a", 5, 1)] and b.execute(SELECT_ROWS) == [(2, "on-b", 5, 1)]
        b.execute("DELETE FROM shop.c WHERE id = 2")  # the operator's decision
        wait_for(
            lambda: a.execute(SELECT_ROWS) == b.execute(SELECT_ROWS) == [(1, "on-a", 5, 1)],
            runner,
            timeout=90,
            what="convergence",
        )  # the retries back off (up to a few seconds here)

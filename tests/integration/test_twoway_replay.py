"""A batch that fails half-way is replayed: conflict detection must then meet none of it applied.

The load stage splits a batch over ``load_pool_size`` connections (and deletes before upserts), each one
transaction. If one part committed and another failed, the replay applied the committed part a second time,
checked against a row the application had changed since: an INSERT whose row had been deleted meanwhile
found "no row", as it expects, and brought the row back on this side only (the delete had already gone to
the other side). Without a home pipeline (``manual``) nothing repairs that, and no conflict is parked.
"""

import time

import pytest

from otter_core.config import load_config_text
from otter_core.conflicts import list_conflicts
from otter_core.testing.harness import running
from otter_core.testing.twoway import SELECT_ROWS, make_table, twoway_yaml, wait_quiet

pytestmark = pytest.mark.usefixtures("clean_databases")


def _wait(predicate, runner, what, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}: {runner.status()}"
        time.sleep(0.05)


def test_a_batch_failing_half_way_is_replayed_whole_without_bringing_back_a_deleted_row(
    mariadb_source, mariadb_target, tmp_path
):
    a, b = mariadb_source, mariadb_target
    held = 2
    new = 3
    make_table(a, b)
    for server in (a, b):
        server.execute(f"INSERT INTO shop.c VALUES ({held}, 'x', 1, 1)")
    text = twoway_yaml(a, b, "manual", home=False)
    config = load_config_text(text)
    (old_timeout,) = b.execute("SELECT @@GLOBAL.innodb_lock_wait_timeout")[0]
    b.execute("SET GLOBAL innodb_lock_wait_timeout = 1")  # the loader's connections (made at start) wait 1 s
    locker = b.connect(autocommit=False)
    try:
        with running(text, str(tmp_path / "state")) as runner:
            a_to_b = next(p for p in runner.pipelines if p.pipeline.name == "a-to-b")
            with locker.cursor() as cur:  # an application transaction holds row `held` on b
                cur.execute(f"SELECT * FROM shop.c WHERE id = {held} FOR UPDATE")
            a.execute(
                "BEGIN",
                f"INSERT INTO shop.c VALUES ({new}, 'new', 2, 2)",
                f"UPDATE shop.c SET status = 'a', v = 3 WHERE id = {held}",
                "COMMIT",
            )
            _wait(lambda: a_to_b.stats.restarts >= 1, runner, "the batch to fail on the held row")
            applied = b.execute(f"SELECT id FROM shop.c WHERE id = {new}")
            # the application deletes the new row (if there); it may wait for a replay's lock on it, so not
            # with the 1 s global timeout the loader gets
            b.execute("SET SESSION innodb_lock_wait_timeout = 30", f"DELETE FROM shop.c WHERE id = {new}")
            locker.rollback()
            wait_quiet(runner, a, b, quiet=1.5, timeout=90, sources={"a": a, "b": b})
            assert applied == [], "part of the failed batch stayed applied on b"
            assert a.execute(SELECT_ROWS) == b.execute(SELECT_ROWS) == [(held, "a", 1, 3), (new, "new", 2, 2)]
            assert list_conflicts(config, status="parked") == []
    finally:
        locker.close()
        b.execute(f"SET GLOBAL innodb_lock_wait_timeout = {int(old_timeout)}")

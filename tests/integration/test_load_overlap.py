"""The next batch is merged and planned on the Extract worker while the load thread still waits on the
previous batch's load (engine/pipeline.py ``extract_transform``, ``LoadStage.prepare``): real MariaDB
source and target, the real MySQL loader, held on an event instead of a slow target."""

from __future__ import annotations

import pytest

from otter_core.engine.pipeline import INLINE_EXTRACT_EVENTS
from otter_core.testing.harness import pipeline_yaml, running, wait_caught_up
from otter_core.testing.load_hold import HeldFirstLoad
from otter_mysql.loader import MySQLLoader

pytestmark = pytest.mark.usefixtures("clean_databases")
TABLE = "CREATE TABLE shop.t (id INT PRIMARY KEY, amount INT)"
SECOND = ", ".join(f"({i}, {i * 10})" for i in range(2, 2 + 2 * INLINE_EXTRACT_EVENTS))  # batch 2's rows
HOLD_SECONDS = 60  # a liveness bound: without the overlap the held load gives up waiting after it


def start_of(server):
    file, pos = server.binlog_position()
    return {"file": file, "pos": pos}


def test_the_next_batch_is_merged_while_the_previous_one_loads(
    mariadb_source, mariadb_target, tmp_path, monkeypatch
):
    """Batch 1's load is held until batch 2's rows have been merged: the merge must come from another
    thread while the load thread is still inside batch 1's load, and batch 2 is not merged again when it
    loads; both batches reach the target."""
    mariadb_source.execute("CREATE DATABASE shop", TABLE)
    mariadb_target.execute("CREATE DATABASE shop", TABLE)
    hold = HeldFirstLoad(monkeypatch, MySQLLoader, HOLD_SECONDS)
    text = pipeline_yaml(mariadb_source, mariadb_target, ["shop.t"], start=start_of(mariadb_source))
    with running(text, str(tmp_path / "state")) as runner:
        mariadb_source.execute("INSERT INTO shop.t VALUES (1, 10)")
        assert hold.first_loading.wait(HOLD_SECONDS), f"batch 1 never reached the loader: {runner.status()}"
        # more rows than the select thread extracts itself (INLINE_EXTRACT_EVENTS): a worker takes them
        mariadb_source.execute(f"INSERT INTO shop.t VALUES {SECOND}")
        wait_caught_up(runner, mariadb_source, timeout=2 * HOLD_SECONDS)
    assert hold.held == [True], "batch 2 was merged only after batch 1's load returned"
    assert len(hold.second_merges) == 1, hold.second_merges  # merged ahead once, not again by the load
    rows = mariadb_target.execute("SELECT id, amount FROM shop.t ORDER BY id")
    assert [tuple(r) for r in rows] == [(i, i * 10) for i in range(1, 2 + 2 * INLINE_EXTRACT_EVENTS)]

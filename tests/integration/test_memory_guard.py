"""The memory guard bounds what is in flight, and never blocks a row bigger than the whole limit."""

import pytest

from otter_core.testing.harness import pipeline_yaml, running, wait_caught_up

pytestmark = pytest.mark.usefixtures("clean_databases")


def test_rows_bigger_than_the_memory_limit_still_flow(mariadb_source, mariadb_target, tmp_path):
    ddl = "CREATE TABLE big.t (id INT PRIMARY KEY, label VARCHAR(20), data LONGBLOB)"
    for server in (mariadb_source, mariadb_target):
        server.execute("CREATE DATABASE big", ddl)
    file, pos = mariadb_source.binlog_position()
    # a 1 MB limit and a batch size/bytes that would take everything at once: only the guard bounds memory
    text = pipeline_yaml(
        mariadb_source,
        mariadb_target,
        ["big.t"],
        start={"file": file, "pos": pos},
        memory_limit_bytes=1_000_000,
        batch_size=100000,
        batch_bytes=1 << 30,
    )
    with running(text, str(tmp_path / "state")) as runner:
        mariadb_source.execute(
            "INSERT INTO big.t VALUES (1, 'three MB', REPEAT(RANDOM_BYTES(1024), 3072))",
            "INSERT INTO big.t SELECT seq, 'small', RANDOM_BYTES(100) FROM big.seq_10_to_400",
            "INSERT INTO big.t VALUES (2, 'two MB', REPEAT(RANDOM_BYTES(1000), 2000)), "
            "(3, 'also two MB', REPEAT(RANDOM_BYTES(1000), 2000))",
            "UPDATE big.t SET data = CONCAT(data, 'x'), label = 'grown' WHERE id <= 3",
        )
        wait_caught_up(runner, mariadb_source, timeout=120)
        assert runner.pipelines[0].stats.restarts == 0
    query = "SELECT id, label, LENGTH(data), MD5(data) FROM big.t ORDER BY id"
    rows = mariadb_target.execute(query)
    assert rows == mariadb_source.execute(query) and len(rows) == 394
    assert rows[0][1:3] == ("grown", 3 * 1024 * 1024 + 1)

"""File sync end to end: rows and the files they point to, through a real pipeline between MariaDB servers."""

import os

import pytest

from otter_core.testing.files import (
    SCHEMA,
    TABLE_DDL,
    file_sync_yaml,
    image_path,
    insert_rows,
    tree_digest,
    write_files,
)
from otter_core.testing.harness import running, wait_caught_up

pytestmark = pytest.mark.usefixtures("clean_databases")
ROWS = 2000


def prepare(source, target):
    for server in (source, target):
        server.execute(f"CREATE DATABASE {SCHEMA}", TABLE_DDL)
    file, pos = source.binlog_position()
    return {"file": file, "pos": pos}


def rows(server):
    return server.execute(f"SELECT * FROM {SCHEMA}.product ORDER BY id")


def test_2000_rows_with_their_files_sync_over_grpc_and_a_second_run_transfers_nothing(
    mariadb_source, mariadb_target, tmp_path
):
    start = prepare(mariadb_source, mariadb_target)
    src, dst = tmp_path / "src", tmp_path / "dst"
    total = write_files(src, range(ROWS))
    insert_rows(mariadb_source, range(ROWS))
    config = file_sync_yaml(
        mariadb_source, mariadb_target, src, dst, start, pipe="rpc", file_load_pool_size=8
    )
    with running(config, str(tmp_path / "state1")) as runner:
        wait_caught_up(runner, mariadb_source, timeout=240)
        first = runner.pipelines[0].file_stats
    assert rows(mariadb_target) == rows(mariadb_source)
    assert tree_digest(dst) == tree_digest(src)  # content, size and mtime of all 2000 files
    assert (first.copied, first.bytes) == (ROWS, total) and max(
        os.path.getsize(src / image_path(i)) for i in range(ROWS)
    ) == 5 * 1024 * 1024
    # the same rows again (a fresh state: every row is re-read from the start): no file is transferred
    with running(config, str(tmp_path / "state2")) as runner:
        wait_caught_up(runner, mariadb_source, timeout=120)
        second = runner.pipelines[0].file_stats
    assert (second.copied, second.bytes, second.skipped) == (0, 0, ROWS)
    assert tree_digest(dst) == tree_digest(src)


def test_memory_pipe_copies_files_and_updates_and_deletes_follow_their_rows(
    mariadb_source, mariadb_target, tmp_path
):
    start = prepare(mariadb_source, mariadb_target)
    src, dst = tmp_path / "src", tmp_path / "dst"
    write_files(src, range(40), max_size=200_000)
    insert_rows(mariadb_source, range(40), per_transaction=7)
    config = file_sync_yaml(mariadb_source, mariadb_target, src, dst, start, pipe="memory")
    with running(config, str(tmp_path / "state")) as runner:
        wait_caught_up(runner, mariadb_source, timeout=120)
        assert tree_digest(dst) == tree_digest(src)
        (src / image_path(3)).write_bytes(b"a new picture")  # the row is updated after its file changed
        mariadb_source.execute(f"UPDATE {SCHEMA}.product SET name = 'renamed' WHERE id = 3")
        for row_id in (5, 6):
            os.unlink(src / image_path(row_id))
        mariadb_source.execute(f"DELETE FROM {SCHEMA}.product WHERE id IN (5, 6)")
        wait_caught_up(runner, mariadb_source, timeout=60)
        stats = runner.pipelines[0].file_stats
    assert rows(mariadb_target) == rows(mariadb_source)
    assert tree_digest(dst) == tree_digest(src)
    assert (dst / image_path(3)).read_bytes() == b"a new picture"
    assert not (dst / image_path(5)).exists() and stats.deleted == 2 and stats.copied == 41


def test_a_row_waits_for_its_missing_file_and_loads_when_it_appears(mariadb_source, mariadb_target, tmp_path):
    start = prepare(mariadb_source, mariadb_target)
    src, dst = tmp_path / "src", tmp_path / "dst"
    config = file_sync_yaml(mariadb_source, mariadb_target, src, dst, start, retry_backoff_ms=50)
    with running(config, str(tmp_path / "state")) as runner:
        insert_rows(mariadb_source, range(1))
        import time

        deadline = time.monotonic() + 30
        while "does not exist" not in (runner.pipelines[0].stats.last_error or ""):
            assert time.monotonic() < deadline, runner.status()
            time.sleep(0.05)
        assert rows(mariadb_target) == []  # rows are loaded only after their files
        write_files(src, range(1), max_size=10)
        wait_caught_up(runner, mariadb_source, timeout=60)
    assert rows(mariadb_target) == rows(mariadb_source) and tree_digest(dst) == tree_digest(src)

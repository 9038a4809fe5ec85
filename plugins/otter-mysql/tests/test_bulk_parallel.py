"""LoadStage loads a batch's initial-load chunks at the same time, over its pool's connections
(``snapshot_bulk._load_blocks``), and still commits all of them before it returns."""

from __future__ import annotations

import threading
import time

import pytest
from loader_support import make_loader
from test_table_reader import reader_for

from otter_core.engine.load import LoadStage
from otter_core.engine.snapshot_bulk import ChunkBlock, chunk_event
from otter_core.model import EventData, EventType, Hint, Position
from otter_core.testing.mariadb import MariaDBServer
from otter_mysql import bulk_read

pytestmark = [
    pytest.mark.usefixtures("clean_databases"),
    pytest.mark.skipif(not bulk_read.AVAILABLE, reason="the C extension is not built"),
]
DB = "par"
TABLES = ("a", "b", "c")
ROWS = 1200


def _chunk_items(source: MariaDBServer, target: MariaDBServer) -> list[tuple[str, int, EventData]]:
    """One ChunkEvent per table (table a first), each holding its table's ``ROWS`` rows, as the snapshot
    emits them in one batch."""
    source.execute(f"CREATE DATABASE {DB}")
    target.execute(f"CREATE DATABASE {DB}")
    for table in TABLES:
        ddl = f"CREATE TABLE {DB}.{table} (id INT PRIMARY KEY, name VARCHAR(40), body BLOB, at DATETIME(6))"
        source.execute(ddl)
        target.execute(ddl)
        source.execute(
            f"INSERT INTO {DB}.{table} SELECT seq, CONCAT('{table}', seq), RANDOM_BYTES(64), "
            f"'2024-01-01' + INTERVAL seq SECOND FROM {DB}.seq_1_to_{ROWS}"
        )
    reader = reader_for(source)
    items = []
    try:
        for table in TABLES:
            columns = tuple(reader.columns(DB, table))
            packed = reader.read_range_packed(DB, table, columns, ("id",), None, ROWS + 1)
            template = EventData(
                DB, table, EventType.INSERT, position=Position("b.1", 4), hints=frozenset({Hint.SNAPSHOT})
            )
            block = ChunkBlock(DB, table, columns, ("id",), packed, frozenset())
            items.append(("target", 0, chunk_event(template, f"tag-{table}", block, 1000)))
    finally:
        reader.close()
    return items


def _count(target: MariaDBServer, table: str) -> int:
    return int(target.execute(f"SELECT COUNT(*) FROM {DB}.{table}")[0][0])


def test_a_batchs_chunks_load_at_the_same_time(mariadb_source, mariadb_target) -> None:
    """Table a's chunk waits for a row lock on the target (an uncommitted insert of its first key); the other tables' chunks of the same batch are
    committed meanwhile on the pool's other connections (one after another, they would wait behind it),
    and the load returns only once a's chunk is committed too."""
    items = _chunk_items(mariadb_source, mariadb_target)
    loader = make_loader(mariadb_target, pool=4)
    stage = LoadStage(loader.pipeline, lambda target: loader)
    blocker = mariadb_target.connect()
    outcome: list = []
    try:
        with blocker.cursor() as cur:
            cur.execute("SET SESSION innodb_lock_wait_timeout = 300")
            cur.execute("BEGIN")
            cur.execute(f"INSERT INTO {DB}.a (id) VALUES (1)")
        thread = threading.Thread(target=lambda: outcome.append(stage.load(items)), daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (
            _count(mariadb_target, "b") == ROWS and _count(mariadb_target, "c") == ROWS
        ):
            time.sleep(0.05)
        loaded_while_a_waits = (_count(mariadb_target, "b"), _count(mariadb_target, "c"))
        assert thread.is_alive(), "the load returned while table a's chunk could not be written"
        assert _count(mariadb_target, "a") < ROWS  # the part holding key 1 waits
    finally:
        blocker.rollback()
        blocker.close()
    thread.join(60)
    stage.close()
    assert loaded_while_a_waits == (ROWS, ROWS), "b and c waited behind a's chunk"
    assert outcome == [3 * ROWS]
    for table in TABLES:
        assert (
            mariadb_source.execute(f"CHECKSUM TABLE {DB}.{table}")[0][1]
            == (mariadb_target.execute(f"CHECKSUM TABLE {DB}.{table}")[0][1])
        )

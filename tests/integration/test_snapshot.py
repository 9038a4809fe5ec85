"""The online initial load (watermark snapshot) through the whole engine, against real MariaDB servers."""

import random
import threading
import time

import pytest
import yaml

from otter_core.config import load_config_text
from otter_core.engine.snapshot_state import SnapshotStore, read_state, request_snapshot
from otter_core.runner import Runner
from otter_core.testing.compare import rows_of
from otter_core.testing.harness import pipeline_yaml, running, wait_caught_up

pytestmark = pytest.mark.usefixtures("clean_databases")
TABLES = {
    "shop.orders": "CREATE TABLE shop.orders (id INT PRIMARY KEY, customer INT, amount DECIMAL(12,2), note VARCHAR(40))",
    "shop.lines": "CREATE TABLE shop.lines (order_id INT, line INT, sku VARCHAR(12), qty INT, PRIMARY KEY (order_id, line))",
    "shop.tags": "CREATE TABLE shop.tags (name VARCHAR(20) PRIMARY KEY, weight INT, seen DATETIME(3))",
}


def create_shop(source, target, rows: int) -> None:
    for server in (source, target):
        server.execute("CREATE DATABASE shop", *TABLES.values())
    source.execute(
        f"INSERT INTO shop.orders SELECT seq, seq % 97, seq / 3, CONCAT('o', seq) FROM shop.seq_1_to_{rows}",
        f"INSERT INTO shop.lines SELECT seq DIV 3, seq % 3, CONCAT('s', seq), seq % 11 FROM shop.seq_3_to_{rows}",
        f"INSERT INTO shop.tags SELECT CONCAT('t', seq), seq, NOW(3) FROM shop.seq_1_to_{rows // 4}",
    )


def load_yaml(source, target, chunk_rows: int, **settings) -> str:
    doc = yaml.safe_load(pipeline_yaml(source, target, [{"source": "shop.*", "target": "shop.*"}]))
    doc["channels"][0]["pipelines"][0]["snapshot"] = {"chunk_rows": chunk_rows, **settings}
    return yaml.safe_dump(doc)


def write_continuously(server, stop: threading.Event, rows: int, seed: int = 3) -> int:
    """Inserts, updates, deletes and key changes over the whole key range until ``stop``; returns txns."""
    rng = random.Random(seed)
    conn = server.connect(autocommit=False)
    txns = 0
    with conn.cursor() as cur:
        while not stop.is_set():
            for _ in range(rng.randint(1, 5)):
                oid = rng.randint(1, rows + 200)
                kind = rng.random()
                if kind < 0.4:
                    cur.execute(
                        "REPLACE INTO shop.orders VALUES (%s, %s, %s, 'w')", (oid, txns, rng.randint(0, 999))
                    )
                elif kind < 0.7:
                    cur.execute("UPDATE shop.lines SET qty = qty + 1 WHERE order_id = %s", (oid // 3,))
                    cur.execute(
                        "UPDATE shop.tags SET weight = weight + 1, seen = NOW(3) WHERE name = %s",
                        (f"t{oid // 4}",),
                    )
                elif kind < 0.85:
                    cur.execute("DELETE FROM shop.orders WHERE id = %s", (oid,))
                    cur.execute("DELETE FROM shop.lines WHERE order_id = %s AND line = 1", (oid // 3,))
                else:
                    cur.execute(
                        "UPDATE IGNORE shop.orders SET id = id + %s WHERE id = %s", (rows * 10 + txns, oid)
                    )
            conn.commit()
            txns += 1
            time.sleep(0.002)
    conn.close()
    return txns


def wait_for_load(runner, timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if runner.failures():
            raise AssertionError(f"pipeline failed: {runner.failures()[0][1]}")
        progress = runner.status()[0]["snapshot"]
        if progress and progress["state"] in ("done", "failed"):
            return progress
        time.sleep(0.1)
    raise AssertionError(f"load not done after {timeout}s: {runner.status()}")


def assert_same_tables(source, target) -> None:
    for table in TABLES:
        expected = rows_of(source, table)
        assert expected, table
        assert rows_of(target, table) == expected, table


def test_load_copies_every_table_while_the_source_keeps_writing(
    mariadb_source, mariadb_target, tmp_path, monkeypatch
):
    """The tables' chunks alternate (``load_pool_size`` tables at once, 4 by default: here all three), each
    table's in key order, while the writer changes rows of every part of the key range."""
    emitted: list[str] = []
    original = SnapshotStore.record_chunk

    def record_chunk(self, table, *args, **kwargs):
        emitted.append(table)
        return original(self, table, *args, **kwargs)

    monkeypatch.setattr(SnapshotStore, "record_chunk", record_chunk)
    create_shop(mariadb_source, mariadb_target, 6000)
    stop = threading.Event()
    writer = threading.Thread(target=write_continuously, args=(mariadb_source, stop, 6000), daemon=True)
    writer.start()
    try:
        with running(load_yaml(mariadb_source, mariadb_target, 700), str(tmp_path)) as runner:
            progress = wait_for_load(runner)
            stop.set()
            writer.join(30)
            wait_caught_up(runner, mariadb_source)
    finally:
        stop.set()
    # 13,498 rows were seeded; the writer deletes some before the load reaches them (more on a slow machine)
    assert progress["state"] == "done" and progress["tables_done"] == 3 and progress["percent"] == 100.0
    assert progress["rows"] >= 0.9 * 13_498
    assert progress["chunks"] >= progress["rows"] / 700  # no chunk held more than chunk_rows rows
    assert sorted(emitted[:3]) == ["shop.lines", "shop.orders", "shop.tags"], emitted
    assert_same_tables(mariadb_source, mariadb_target)


class ChangingReader:
    """The source's real TableReader; right after the first chunk is read (before its high watermark) other
    sessions change, delete and re-key rows of that chunk."""

    def __init__(self, reader, source) -> None:
        self.reader, self.source, self.done = reader, source, False

    def __getattr__(self, name):
        return getattr(self.reader, name)

    def read_range(self, schema, table, *args, **kwargs):
        return self._change(table, self.reader.read_range(schema, table, *args, **kwargs))

    def read_range_packed(self, schema, table, *args, **kwargs):
        """The bulk path's read (snapshot_bulk): the same changes right after it."""
        rows = self.reader.read_range_packed(schema, table, *args, **kwargs)
        self.packed = self.packed or (table == "orders" and not isinstance(rows, list))
        return self._change(table, rows)

    packed = False  # a chunk of orders was read packed (the bulk path)

    def _change(self, table, rows):
        if table == "orders" and not self.done:
            self.done = True
            self.source.execute(
                "UPDATE shop.orders SET note = 'newer' WHERE id = 3",
                "DELETE FROM shop.orders WHERE id = 4",
                "UPDATE shop.orders SET id = 100000 WHERE id = 5",
            )
        return rows


@pytest.mark.parametrize("bulk", [True, False], ids=["bulk-path", "row-path"])
def test_changes_between_the_watermarks_win_over_the_rows_read(
    mariadb_source, mariadb_target, tmp_path, monkeypatch, bulk
):
    monkeypatch.setenv("OTTER_SNAPSHOT_BULK", "1" if bulk else "0")
    create_shop(mariadb_source, mariadb_target, 300)
    text = yaml.safe_load(load_yaml(mariadb_source, mariadb_target, 100, tables=["shop.orders"]))
    text["channels"][0]["pipelines"][0]["parameters"]["select_process"] = False  # chunks read in this process
    runner = Runner(load_config_text(yaml.safe_dump(text)), str(tmp_path))
    load = runner.pipelines[0].snapshot
    real = load.make_reader
    readers = []
    load.make_reader = lambda: readers.append(ChangingReader(real(), mariadb_source)) or readers[-1]
    runner.start()
    try:
        assert wait_for_load(runner)["state"] == "done"
        wait_caught_up(runner, mariadb_source)
    finally:
        runner.stop()
        runner.join(30)
    assert readers and readers[0].done and readers[0].packed == bulk
    assert mariadb_target.execute(
        "SELECT id, note FROM shop.orders WHERE id IN (3, 4, 5, 100000) ORDER BY id"
    ) == [(3, "newer"), (100000, "o5")]
    assert rows_of(mariadb_target, "shop.orders") == rows_of(mariadb_source, "shop.orders")
    assert rows_of(mariadb_target, "shop.tags") == []  # not requested


def test_a_load_that_cannot_run_fails_alone_and_replication_goes_on(mariadb_source, mariadb_target, tmp_path):
    create_shop(mariadb_source, mariadb_target, 50)
    text = yaml.safe_load(pipeline_yaml(mariadb_source, mariadb_target, ["shop.orders"]))
    with running(yaml.safe_dump(text), str(tmp_path)) as runner:
        request_snapshot(tmp_path, "test", "src-to-dst", tables=["shop.nothing_like_this"])
        progress = wait_for_load(runner)
        assert progress["state"] == "failed" and "shop.nothing_like_this" in progress["error"]
        mariadb_source.execute("INSERT INTO shop.orders VALUES (9999, 1, 2, 'after')")
        wait_caught_up(runner, mariadb_source)
        assert not runner.failures()
    assert mariadb_target.execute("SELECT note FROM shop.orders") == [("after",)]
    assert read_state(tmp_path, "test", "src-to-dst")["state"] == "failed"


def test_chunks_the_loader_refuses_take_the_row_path(mariadb_source, mariadb_target, tmp_path, caplog):
    """A target table with another UNIQUE key refuses the bulk path (the row path clears the holders of
    its values first): the engine loads those chunks' rows as events, the other tables go the bulk path."""
    create_shop(mariadb_source, mariadb_target, 3000)
    mariadb_target.execute("ALTER TABLE shop.tags ADD UNIQUE KEY (weight)")
    caplog.set_level("INFO", logger="otter")
    with running(load_yaml(mariadb_source, mariadb_target, 400), str(tmp_path)) as runner:
        assert wait_for_load(runner)["state"] == "done"
        wait_caught_up(runner, mariadb_source)
    assert "initial load of shop.tags: chunks go through the row path" in caplog.text
    assert "shop.orders: chunks travel as blocks (bulk path)" in caplog.text
    assert "initial load of shop.orders: chunks go through the row path" not in caplog.text
    assert_same_tables(mariadb_source, mariadb_target)


def test_a_table_of_wide_rows_is_read_in_smaller_chunks(mariadb_source, mariadb_target, tmp_path, caplog):
    """Chunks of a table whose rows average 16 KB are bounded by the window's share of
    ``memory_limit_bytes`` (``snapshot_plan.chunk_limit``), not only by ``chunk_rows``; narrow tables keep
    ``chunk_rows``. 600 rows of 16 KB with the default 64 MB limit: 2.8 MB chunks, at most ~170 rows."""
    create_shop(mariadb_source, mariadb_target, 1000)
    ddl = "CREATE TABLE shop.docs (id INT PRIMARY KEY, body LONGBLOB)"
    mariadb_target.execute(ddl)
    mariadb_source.execute(
        ddl,
        "INSERT INTO shop.docs SELECT seq, CONCAT(RANDOM_BYTES(1024), REPEAT(RANDOM_BYTES(1024), 15)) "
        "FROM shop.seq_1_to_600",
        "ANALYZE TABLE shop.docs",
    )
    caplog.set_level("INFO", logger="otter")
    with running(load_yaml(mariadb_source, mariadb_target, 5000), str(tmp_path)) as runner:
        assert wait_for_load(runner)["state"] == "done"
        wait_caught_up(runner, mariadb_source)
    state = read_state(tmp_path, "test", "src-to-dst")
    # 600 docs rows in chunks of <= ~170 rows: at least 4 chunks; orders 1000 + lines ~1000 + tags 250
    # in one chunk each (chunk_rows 5000)
    assert state["chunks"] >= 4 + 3, state
    assert "initial load of shop.docs: " in caplog.text and "rows per chunk (wide rows" in caplog.text
    for narrow in ("orders", "lines", "tags"):
        assert f"initial load of shop.{narrow}: 1" not in caplog.text  # no "N rows per chunk" line
    assert state["confirmed"]["shop.docs"]["rows"] == 600
    assert_same_tables(mariadb_source, mariadb_target)

"""A running pipeline under load swaps its processor between batches: no row lost, none processed twice,
every transaction processed by one version."""

import collections
import threading
import time

import pytest

from otter_core.testing.harness import pipeline_yaml, running, wait_caught_up
from otter_dynamic import DynamicStore

pytestmark = pytest.mark.usefixtures("clean_databases")

TABLE = "CREATE TABLE shop.orders (id INT PRIMARY KEY, txn INT NOT NULL, v VARCHAR(8) NOT NULL)"
PROCESSOR = """import attrs

def process(event):
    with open(options["log"], "a") as log:
        log.write(f"{event.keys['id']} {event.event_type.value} {TAG}\\n")
    return attrs.evolve(event, columns={**event.columns, "v": TAG})
"""
ROWS_PER_TXN = 20


def source_for(tag):
    return f"TAG = {tag!r}\n" + PROCESSOR


def write_transactions(server, first_txn, stop, counter):
    conn = server.connect(autocommit=False)
    txn = first_txn
    try:
        with conn.cursor() as cur:
            while not stop.is_set():
                rows = [(txn * ROWS_PER_TXN + i, txn) for i in range(ROWS_PER_TXN)]
                cur.executemany("INSERT INTO shop.orders (id, txn, v) VALUES (%s, %s, 'src')", rows)
                conn.commit()
                counter["txns"] = txn + 1 - first_txn
                txn += 1
                time.sleep(0.002)
    finally:
        conn.close()


def wait_for(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_swap_under_load_loses_no_row_and_runs_each_once(mariadb_source, mariadb_target, tmp_path):
    for server in (mariadb_source, mariadb_target):
        server.execute("CREATE DATABASE shop", TABLE)
    log_path = tmp_path / "processed.log"
    store_dir = tmp_path / "store"
    store = DynamicStore(store_dir)
    store.push("tagger", "processor", source_for("v1"), author="admin", activate=True)
    v2 = store.push("tagger", "processor", source_for("v2"), author="admin")
    file, pos = mariadb_source.binlog_position()
    pair = {
        "source": "shop.orders",
        "processors": ["dynamic"],
        "processor_options": {
            "dynamic": {"name": "tagger", "store": str(store_dir), "options": {"log": str(log_path)}}
        },
    }
    text = pipeline_yaml(
        mariadb_source,
        mariadb_target,
        [pair],
        start={"file": file, "pos": pos},
        batch_size=200,
        parallelism=4,
    )
    stop, counter = threading.Event(), {"txns": 0}
    with running(text, str(tmp_path / "state")) as runner:
        writer = threading.Thread(target=write_transactions, args=(mariadb_source, 0, stop, counter))
        writer.start()
        try:

            def target_rows(tag):
                return mariadb_target.execute("SELECT COUNT(*) FROM shop.orders WHERE v = %s", args=(tag,))[
                    0
                ][0]

            wait_for(lambda: target_rows("v1") >= 1000, 120, "1000 rows loaded by v1")
            store.activate("tagger", v2)
            swapped_at = counter["txns"]
            wait_for(lambda: target_rows("v2") >= 1000, 120, "1000 rows loaded by v2")
        finally:
            stop.set()
            writer.join()
        wait_caught_up(runner, mariadb_source, timeout=120)
    source_rows = mariadb_source.execute("SELECT id, txn FROM shop.orders ORDER BY id")
    target = mariadb_target.execute("SELECT id, txn, v FROM shop.orders ORDER BY id")
    assert [(i, t) for i, t, _ in target] == list(source_rows), "a row was lost or invented"
    assert counter["txns"] > swapped_at > 0
    # every row processed exactly once, and the version the target holds is the one that processed it
    processed = collections.Counter()
    version_of = {}
    for line in log_path.read_text().splitlines():
        row_id, kind, tag = line.split()
        processed[int(row_id)] += 1
        version_of[int(row_id)] = tag
    assert set(processed) == {i for i, _ in source_rows}
    assert max(processed.values()) == 1, "a row was processed twice"
    assert all(version_of[i] == v for i, _, v in target)
    # a swap happens between batches: a transaction (never split across batches) has one version
    versions_per_txn = collections.defaultdict(set)
    for _, txn, v in target:
        versions_per_txn[txn].add(v)
    assert all(len(tags) == 1 for tags in versions_per_txn.values())
    assert {v for _, _, v in target} == {"v1", "v2"}
    assert store.loaded("tagger")["version"] == v2

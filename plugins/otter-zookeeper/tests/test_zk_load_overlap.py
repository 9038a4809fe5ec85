"""Split stages (ZooKeeper mode): the Transform+Load node transforms, merges and plans the next batch on a
fetch thread while its load thread still waits on the previous batch's load (engine/stages.py
``TransformLoadRunner._fetch``): real ZooKeeper, MariaDB source and target, the real MySQL loader held
on an event instead of a slow target."""

import time

import pytest
from zk_support import wait_for

from otter_core.testing.harness import pipeline_yaml
from otter_core.testing.load_hold import HeldFirstLoad
from otter_mysql.loader import MySQLLoader
from otter_zookeeper.admin import deploy
from otter_zookeeper.layout import Layout
from otter_zookeeper.node import Node
from otter_zookeeper.placement import Placement
from otter_zookeeper.signals import ZooKeeperSignals

pytestmark = pytest.mark.usefixtures("clean_databases")
HOLD_SECONDS = 60  # a liveness bound: without the overlap the held load gives up waiting after it


def test_the_load_node_merges_the_next_batch_while_the_previous_one_loads(
    mariadb_source, mariadb_target, zk, zk_root, zookeeper_server, tmp_path, monkeypatch
):
    for server in (mariadb_source, mariadb_target):
        server.execute("CREATE DATABASE zkt", "CREATE TABLE zkt.orders (id INT PRIMARY KEY, amount INT)")
    file, pos = mariadb_source.binlog_position()
    text = pipeline_yaml(
        mariadb_source, mariadb_target, ["zkt.orders"], start={"file": file, "pos": pos}, select_process=False
    )
    upcoming = ZooKeeperSignals.upcoming

    def both_ready(self, limit, timeout):
        """The load stage's first look at the ready signals waits for both batches: the fetch thread
        then has batch 2 in hand while batch 1 loads (a later batch is fetched between two loads)."""
        signals = upcoming(self, limit, timeout)
        for _ in range(HOLD_SECONDS * 10):
            if hold.held or len(signals) != 1:
                break
            time.sleep(0.1)  # batch 1's signal stays there until it is loaded: no wait inside
            signals = upcoming(self, limit, 0)
        return signals

    monkeypatch.setattr(ZooKeeperSignals, "upcoming", both_ready)
    hold = HeldFirstLoad(monkeypatch, MySQLLoader, HOLD_SECONDS)
    deploy(zk, Layout(zk_root), text, "p.yaml", default=Placement([1], [1], "zookeeper", 0))
    node = Node(zookeeper_server.hosts, 1, root=zk_root, state_dir=str(tmp_path / "n1"), session_timeout=2.0)
    node.start()
    try:
        mariadb_source.execute("INSERT INTO zkt.orders VALUES (1, 10)")
        ready = Layout(zk_root).ready("test", "src-to-dst")
        wait_for(lambda: zk.exists(ready) and zk.get_children(ready), HOLD_SECONDS, "batch 1's signal")
        mariadb_source.execute("INSERT INTO zkt.orders VALUES (2, 20), (3, 30)")
        wait_for(
            lambda: mariadb_target.execute("SELECT COUNT(*) FROM zkt.orders") == [(3,)],
            2 * HOLD_SECONDS,
            "both batches on the target",
        )
        assert hold.first_loading.is_set()
    finally:
        node.stop()
    assert hold.held == [True], "batch 2 was merged only after batch 1's load returned"
    assert len(hold.second_merges) == 1, hold.second_merges  # merged ahead once, not again by the load
    rows = mariadb_target.execute("SELECT id, amount FROM zkt.orders ORDER BY id")
    assert [tuple(r) for r in rows] == [(1, 10), (2, 20), (3, 30)]

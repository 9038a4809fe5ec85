"""A node's published status of a load stage whose target is down: ``retrying`` with a lag that grows
from the oldest unapplied batch, then caught up with nothing lost once the target is back."""

import time

import pytest
from zk_support import wait_for

from otter_core.testing.harness import pipeline_yaml
from otter_zookeeper.admin import ClusterView, deploy
from otter_zookeeper.layout import STAGE_LOAD, Layout
from otter_zookeeper.node import Node
from otter_zookeeper.placement import Placement

pytestmark = pytest.mark.usefixtures("clean_databases")
COUNT = "SELECT COUNT(*), COALESCE(SUM(amount), 0) FROM zkt.orders"


def load_status(view):
    return view.pipelines()[0]["status"].get(STAGE_LOAD) or {}


def test_a_load_stage_whose_target_is_down_publishes_retrying_and_a_growing_lag(
    mariadb_source, mariadb_target, zk, zk_root, zookeeper_server, tmp_path
):
    for server in (mariadb_source, mariadb_target):
        server.execute("CREATE DATABASE zkt", "CREATE TABLE zkt.orders (id INT PRIMARY KEY, amount INT)")
    file, pos = mariadb_source.binlog_position()
    text = pipeline_yaml(
        mariadb_source, mariadb_target, ["zkt.orders"], start={"file": file, "pos": pos}, select_process=False
    )
    deploy(zk, Layout(zk_root), text, "p.yaml", default=Placement([1], [1], "zookeeper", 0))
    node = Node(
        zookeeper_server.hosts, 1, root=zk_root, state_dir=str(tmp_path / "n1"), session_timeout=2.0
    ).start()
    view = ClusterView(zk, zk_root)
    try:
        mariadb_source.execute("INSERT INTO zkt.orders VALUES (1, 1)")
        wait_for(lambda: mariadb_target.execute(COUNT) == [(1, 1)], 60, "the first row")
        mariadb_target.stop()
        try:
            mariadb_source.execute("INSERT INTO zkt.orders VALUES (2, 2), (3, 3)")
            first = wait_for(
                lambda: (s := load_status(view)).get("state") == "retrying" and s.get("lag_s", 0) > 0 and s,
                90,
                "the load stage to publish retrying",
            )
            time.sleep(4.5)  # nodes publish every 2 s
            later = wait_for(
                lambda: (s := load_status(view)).get("updated", 0) > first["updated"] and s,
                30,
                "a newer status",
            )
            assert later["state"] == "retrying" and later["lag_s"] >= first["lag_s"] + 2.0, (first, later)
        finally:
            mariadb_target.start()
        wait_for(lambda: mariadb_target.execute(COUNT) == [(3, 6)], 120, "the rows after the target is back")
    finally:
        node.stop()

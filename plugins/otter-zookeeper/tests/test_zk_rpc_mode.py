"""Arbitrate mode rpc: S/E pushes the ready signals to T/L over gRPC; ZooKeeper keeps epoch and positions."""

import secrets
import threading
import time

import pytest
import yaml
from kazoo.client import KazooClient
from zk_support import wait_for

from otter_core.spi import NodeContext
from otter_core.testing.harness import pipeline_yaml
from otter_core.testing.nodes import NodeProcess
from otter_zookeeper.admin import ClusterView, deploy
from otter_zookeeper.layout import Layout, decode
from otter_zookeeper.node import Node
from otter_zookeeper.placement import Placement

pytest.importorskip("otter_grpc")
pytestmark = pytest.mark.usefixtures("clean_databases")
COUNT = (
    "SELECT COUNT(*), COALESCE(SUM(amount), 0), COALESCE(BIT_XOR(CRC32(CONCAT(id, '#', amount))), 0) "
    "FROM zkr.orders"
)


def prepare(source, target, **parameters):
    for server in (source, target):
        server.execute("CREATE DATABASE zkr", "CREATE TABLE zkr.orders (id INT PRIMARY KEY, amount INT)")
    file, pos = source.binlog_position()
    doc = yaml.safe_load(
        pipeline_yaml(
            source,
            target,
            ["zkr.orders"],
            start={"file": file, "pos": pos},
            select_process=False,
            **parameters,
        )
    )
    doc["channels"][0]["pipelines"][0]["pipe"] = "rpc"
    return yaml.safe_dump(doc)


def write_rows(source, first, count):
    rows = ", ".join(f"({i}, {i * 3})" for i in range(first, first + count))
    source.execute(f"INSERT INTO zkr.orders VALUES {rows}")


def same(source, target):
    return source.execute(COUNT) == target.execute(COUNT)


def test_split_pipeline_in_rpc_mode_syncs_rows_without_ready_znodes(
    mariadb_source, mariadb_target, zk, zk_root, zookeeper_server, tmp_path
):
    layout = Layout(zk_root)
    text = prepare(mariadb_source, mariadb_target, batch_size=50, parallelism=4)
    deploy(zk, layout, text, "p.yaml", default=Placement([1], [2], "rpc", 0))
    token = secrets.token_hex(16)
    nodes = [
        Node(
            zookeeper_server.hosts,
            i,
            root=zk_root,
            state_dir=str(tmp_path / f"n{i}"),
            session_timeout=2.0,
            context=NodeContext(node_id=i, auth_token=token, spool_dir=str(tmp_path / f"spool{i}")),
        ).start()
        for i in (1, 2)
    ]
    ready = layout.ready("test", "src-to-dst")
    try:
        for chunk in range(10):
            write_rows(mariadb_source, chunk * 100, 100)
            assert not zk.exists(ready) or zk.get_children(ready) == []  # no signal goes through ZooKeeper
        wait_for(lambda: same(mariadb_source, mariadb_target), 90, "the target to catch up")
        target = decode(zk.get(layout.pipeline("test", "src-to-dst", "signal_target"))[0])
        assert target["node"] == 2
        sender = nodes[0].slots[("test", "src-to-dst")].workers["select"].runner.signals._sender
        assert sender is not None and sender.calls > 0 and sender.pending() == 0
        position = wait_for(lambda: decode(zk.get(layout.pipeline("test", "src-to-dst", "position"))[0]), 10)
        assert position["node"] == 2 and position["process_id"] > 0  # acks still land in ZooKeeper, from T/L
        stages = {(n.node_id, r["stage"]) for n in nodes for r in n.status() if r["running"]}
        assert stages == {(1, "select"), (2, "load")}
    finally:
        for node in nodes:
            node.stop()


def test_kill_9_of_the_select_node_in_rpc_mode_loses_no_row(
    mariadb_source, mariadb_target, zookeeper_server, tmp_path
):
    text = prepare(mariadb_source, mariadb_target, batch_size=200, parallelism=4)
    root = f"/otter-rpc-kill-{int(time.time() * 1000) % 10**8}"
    zk = KazooClient(hosts=zookeeper_server.hosts, timeout=5.0)
    zk.start(timeout=15)
    view = ClusterView(zk, root)
    nodes = {
        i: NodeProcess(zookeeper_server.hosts, i, tmp_path, session_timeout=2.0, root=root).start()
        for i in (1, 2, 3)
    }
    done = threading.Event()

    def workload():
        for chunk in range(60):
            write_rows(mariadb_source, chunk * 250, 250)
            time.sleep(0.05)
        done.set()

    try:
        wait_for(lambda: len(view.nodes()) == 3, 60, "three nodes")
        deploy(zk, Layout(root), text, "p.yaml", default=Placement([1, 3], [2], "rpc", 1.0))
        wait_for(
            lambda: (
                view.holder("test", "src-to-dst", "select") == 1
                and view.holder("test", "src-to-dst", "load") == 2
            ),
            60,
            "the preferred nodes to take their stages",
        )
        writer = threading.Thread(target=workload, daemon=True)
        writer.start()
        wait_for(
            lambda: mariadb_target.execute("SELECT COUNT(*) FROM zkr.orders")[0][0] > 0, 60, "first rows"
        )
        killed_at = nodes[1].kill()
        wait_for(lambda: view.holder("test", "src-to-dst", "select") == 3, 60, "select to move to node 3")
        writer.join(timeout=120)
        assert done.is_set(), "workload did not finish"
        wait_for(
            lambda: same(mariadb_source, mariadb_target),
            120,
            "the target to catch up: " + "".join(n.log_tail(1500) for n in nodes.values()),
        )
        assert mariadb_target.execute("SELECT COUNT(*) FROM zkr.orders") == [(15000,)]
        starts = [
            e for e in view.history("test", "src-to-dst") if e["event"] == "start" and e["time"] > killed_at
        ]
        assert {(e["node"], e["stage"]) for e in starts} >= {(3, "select")}
        assert view.holder("test", "src-to-dst", "load") == 2
    finally:
        for node in nodes.values():
            node.stop()
        zk.stop()
        zk.close()

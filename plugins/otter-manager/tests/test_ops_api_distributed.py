"""The manager in distributed mode (``--zk``): it pushes a channel to a real `otter-run node` through
ZooKeeper, lists the node and what runs where, and controls and monitors the channel from the same API."""

from __future__ import annotations

import itertools
import time

import pytest
from fastapi.testclient import TestClient
from kazoo.client import KazooClient
from manager_support import ADMIN_PASSWORD, OPERATOR_PASSWORD, login
from ops_steps import PAIRS, fast_collector, insert, target_count, wait_for  # noqa: F401  -- pytest fixtures, used by parameter name

from otter_core.testing.harness import pipeline_yaml
from otter_core.testing.nodes import NodeProcess
from otter_manager.app import create_app
from otter_manager.security import set_user
from otter_manager.settings import load_settings

pytestmark = pytest.mark.usefixtures("clean_databases", "fast_collector")
_chroots = itertools.count(1)


@pytest.fixture
def cluster(zookeeper_server, tmp_path):
    """A node and a manager sharing a fresh ZooKeeper chroot; yields (admin client, operator client, node)."""
    chroot = f"/manager-api-{next(_chroots)}-{int(time.time() * 1000) % 10**8}"
    zk = KazooClient(hosts=zookeeper_server.hosts)
    zk.start(timeout=15)
    zk.ensure_path(chroot)
    zk.stop()
    zk.close()
    hosts = zookeeper_server.hosts + chroot
    node = NodeProcess(hosts, 1, tmp_path / "node").start()
    app = create_app(load_settings(tmp_path / "manager", zk_hosts=hosts))
    with app.state.db.session_scope() as session:
        set_user(session, "admin", ADMIN_PASSWORD, "ADMIN")
        set_user(session, "oper", OPERATOR_PASSWORD, "OPERATOR")
    try:
        with TestClient(app) as admin, TestClient(app) as operator:
            yield login(admin, "admin", ADMIN_PASSWORD), login(operator, "oper", OPERATOR_PASSWORD), node
    finally:
        node.stop()
        app.state.db.dispose()


def test_manager_deploys_to_a_node_and_reads_its_status_from_zookeeper(
    cluster, mariadb_source, mariadb_target
):
    admin, operator, node = cluster
    for server in (mariadb_source, mariadb_target):
        server.execute(
            "CREATE DATABASE shop", "CREATE TABLE shop.orders (id INT PRIMARY KEY, note VARCHAR(50))"
        )
    file, pos = mariadb_source.binlog_position()
    text = pipeline_yaml(
        mariadb_source,
        mariadb_target,
        PAIRS,
        start={"file": file, "pos": pos},
        channel="shop",
        select_process=False,
    )
    assert admin.post("/api/config/import", content=text).status_code == 200
    channel_id = admin.get("/api/channels").json()[0]["id"]
    wait_for(lambda: operator.get("/api/nodes").json(), f"node 1 registered; node log: {node.log_tail()}")
    started = operator.post(f"/api/channels/{channel_id}/start")
    assert started.status_code == 200, started.text
    insert(mariadb_source, range(1, 16))
    wait_for(lambda: target_count(mariadb_target) == 15, "15 rows through the node")
    status = wait_for(
        lambda: (s := operator.get("/api/status").json()[0])["pipelines"][0].get("rows") == 15 and s,
        "the node's published figures",
    )
    assert status["state"] == "RUNNING" and status["pipelines"][0]["tables"]["shop.orders"]["I"] == 15
    [seen] = operator.get("/api/nodes").json()
    assert seen["id"] == 1 and seen["alive"] and "shop/src-to-dst:select" in seen["runs"]
    assert operator.post(f"/api/channels/{channel_id}/stop").status_code == 200
    wait_for(
        lambda: operator.get("/api/status").json()[0]["state"] == "STOPPED", "the node stopped the channel"
    )
    reset = operator.post(
        f"/api/pipelines/{status['pipelines'][0]['pipeline_id']}/reset", json={"file": file, "pos": pos}
    )
    assert reset.status_code == 200, reset.text
    mariadb_target.execute("DELETE FROM shop.orders")
    operator.post(f"/api/channels/{channel_id}/start")
    wait_for(lambda: target_count(mariadb_target) == 15, "the 15 rows replayed from the reset position")

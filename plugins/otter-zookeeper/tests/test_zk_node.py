"""A node in this process takes the pipelines deployed in ZooKeeper: whole, split, paused, moved."""

import time

import pytest
from kazoo.client import KazooClient
from zk_support import wait_for

from otter_core.testing.harness import pipeline_yaml
from otter_zookeeper.admin import ClusterView, deploy, set_channel_state
from otter_zookeeper.layout import Layout
from otter_zookeeper.node import Node
from otter_zookeeper.placement import Placement

pytestmark = pytest.mark.usefixtures("clean_databases")
COUNT = "SELECT COUNT(*), COALESCE(SUM(amount), 0) FROM zkt.orders"


def prepare(source, target):
    for server in (source, target):
        server.execute("CREATE DATABASE zkt", "CREATE TABLE zkt.orders (id INT PRIMARY KEY, amount INT)")
    file, pos = source.binlog_position()
    return pipeline_yaml(
        source, target, ["zkt.orders"], start={"file": file, "pos": pos}, select_process=False, batch_size=50
    )


def write_rows(source, first, count):
    rows = ", ".join(f"({i}, {i * 3})" for i in range(first, first + count))
    source.execute(f"INSERT INTO zkt.orders VALUES {rows}")


def same(source, target):
    return source.execute(COUNT) == target.execute(COUNT)


@pytest.fixture
def node(zookeeper_server, zk_root, tmp_path):
    started = []

    def start(node_id=1):
        n = Node(
            zookeeper_server.hosts,
            node_id,
            root=zk_root,
            state_dir=str(tmp_path / f"n{node_id}"),
            session_timeout=2.0,
        ).start()
        started.append(n)
        return n

    yield start
    for n in started:
        n.stop()


@pytest.mark.parametrize("arbitrate", ["automatic", "zookeeper"])
def test_node_runs_a_deployed_pipeline(mariadb_source, mariadb_target, zk, zk_root, node, arbitrate):
    text = prepare(mariadb_source, mariadb_target)
    deploy(zk, Layout(zk_root), text, "p.yaml", default=Placement([1], [1], arbitrate, 0))
    n = node(1)
    write_rows(mariadb_source, 0, 500)
    wait_for(lambda: same(mariadb_source, mariadb_target), 60, "the target to catch up")
    view = ClusterView(zk, zk_root)
    row = wait_for(lambda: [r for r in view.pipelines() if r["position"]], 10, "an acked position")[0]
    assert (row["select_node"], row["load_node"]) == (1, 1)
    assert [x["id"] for x in view.nodes()] == [1]
    status = wait_for(lambda: view.pipelines()[0]["status"].get("select"), 10, "published stage status")
    assert status["node"] == 1 and status["rows"] >= 0
    stages = {r["stage"] for r in n.status() if r["running"]}
    assert stages == ({"select", "load"} if arbitrate == "zookeeper" else {"select"})
    # Load took the pipeline over on the target with its fencing token (otter_mysql.fencing)
    [(pipeline, token)] = mariadb_target.execute("SELECT pipeline, token FROM retl.retl_fence")
    issued = int(zk.get(Layout(zk_root).pipeline(row["channel"], row["pipeline"], "fencing_token"))[0])
    assert pipeline == f"{row['channel']}/{row['pipeline']}" and 1 <= token <= issued


def test_pause_holds_rows_until_resume(mariadb_source, mariadb_target, zk, zk_root, node):
    text = prepare(mariadb_source, mariadb_target)
    layout = Layout(zk_root)
    deploy(zk, layout, text, "p.yaml", default=Placement([1], [1], "zookeeper", 0))
    n = node(1)
    write_rows(mariadb_source, 0, 10)
    wait_for(lambda: same(mariadb_source, mariadb_target), 60, "the first rows")
    set_channel_state(zk, layout, "test", "PAUSE")
    select = n.slots[("test", "src-to-dst")].workers["select"]
    wait_for(
        lambda: select.runner is not None and not select.runner.arbitrator.permit(),
        30,
        "the select stage saw the pause (its permit follows the channel znode through a watch)",
    )
    write_rows(mariadb_source, 100, 10)
    time.sleep(2.0)
    assert not same(mariadb_source, mariadb_target), "a paused channel must not load"
    set_channel_state(zk, layout, "test", "START")
    wait_for(lambda: same(mariadb_source, mariadb_target), 60, "the rows after resume")


def test_session_expiry_stops_the_stage_at_once_and_it_comes_back(
    mariadb_source, mariadb_target, zk, zk_root, node, zookeeper_server
):
    text = prepare(mariadb_source, mariadb_target)
    deploy(zk, Layout(zk_root), text, "p.yaml", default=Placement([1], [1], "automatic", 0))
    n = node(1)
    write_rows(mariadb_source, 0, 10)
    wait_for(lambda: same(mariadb_source, mariadb_target), 60, "the first rows")
    worker = n.slots[("test", "src-to-dst")].workers["select"]
    assert worker.running
    # expire the node's session for real: a second client with the same session id and password closes it
    session_id, password = n.zk.client_id
    thief = KazooClient(hosts=zookeeper_server.hosts, client_id=(session_id, password), timeout=2.0)
    thief.start(timeout=10)
    thief.stop()
    thief.close()
    wait_for(lambda: not worker.running, 10, "the stage to stop after the session expired", interval=0.02)
    write_rows(mariadb_source, 100, 10)
    wait_for(lambda: same(mariadb_source, mariadb_target), 60, "the stage to resume on a new session")
    events = [e["event"] for e in ClusterView(zk, zk_root).history("test", "src-to-dst")]
    assert events[:2] == ["start", "stop"] and events[2] == "start"


def test_a_failed_load_of_a_split_pipeline_rolls_back_and_replays(
    mariadb_source, mariadb_target, zk, zk_root, node
):
    text = prepare(mariadb_source, mariadb_target)
    layout = Layout(zk_root)
    deploy(zk, layout, text, "p.yaml", default=Placement([1], [1], "zookeeper", 0))
    node(1)
    write_rows(mariadb_source, 0, 20)
    wait_for(lambda: same(mariadb_source, mariadb_target), 60, "the first rows")
    view = ClusterView(zk, zk_root)
    epoch = view.pipelines()[0]["epoch"]
    mariadb_target.execute("RENAME TABLE zkt.orders TO zkt.orders_away")  # every load fails now
    write_rows(mariadb_source, 100, 20)
    wait_for(lambda: view.pipelines()[0]["epoch"] >= epoch + 2, 60, "the load stage to roll back")
    mariadb_target.execute("RENAME TABLE zkt.orders_away TO zkt.orders")
    wait_for(lambda: same(mariadb_source, mariadb_target), 60, "the replay after the rollback")
    assert mariadb_target.execute("SELECT COUNT(*) FROM zkt.orders") == [(40,)]

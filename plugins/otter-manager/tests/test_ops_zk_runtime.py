"""ZooKeeperRuntime: the manager deploys a channel to a real `otter-run node`, reads its status and the
node list from ZooKeeper, pauses and stops it, and resets a position only while it is stopped."""

import itertools
import time

import pytest
from test_ops_runtime import PAIRS, count, insert

from otter_core.testing.harness import pipeline_yaml
from otter_core.testing.nodes import NodeProcess
from otter_manager.ops.errors import ChannelConflict, UnknownChannel
from otter_manager.ops.positions import requested_position
from otter_manager.ops.zk_runtime import ZooKeeperRuntime

pytestmark = pytest.mark.usefixtures("clean_databases")
_roots = itertools.count(1)


def wait_until(predicate, what, node, timeout=90.0, runtime=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    seen = runtime.status() if runtime else ""
    raise AssertionError(f"{what} not reached after {timeout}s; status {seen}; node log: {node.log_tail()}")


@pytest.fixture
def cluster(zookeeper_server, tmp_path):
    root = f"/otter-mgr-{next(_roots)}-{int(time.time() * 1000) % 10**8}"
    node = NodeProcess(zookeeper_server.hosts, 1, tmp_path, root=root).start()
    runtime = ZooKeeperRuntime(zookeeper_server.hosts, root)
    yield runtime, node
    runtime.close()
    node.stop()


def test_channel_deployed_to_a_node_runs_and_reports_through_zookeeper(
    cluster, mariadb_source, mariadb_target
):
    runtime, node = cluster
    for server in (mariadb_source, mariadb_target):
        server.execute(
            "CREATE DATABASE shop", "CREATE TABLE shop.orders (id INT PRIMARY KEY, note VARCHAR(50))"
        )
    file, pos = mariadb_source.binlog_position()
    yaml_text = pipeline_yaml(
        mariadb_source,
        mariadb_target,
        PAIRS,
        start={"file": file, "pos": pos},
        channel="shop",
        select_process=False,
    )
    wait_until(lambda: runtime.nodes(), "node 1 registered", node)
    runtime.start("shop", yaml_text)
    insert(mariadb_source, range(1, 21))
    wait_until(lambda: count(mariadb_target) == 20, "20 rows on the target", node)
    status = wait_until(
        lambda: (s := runtime.channel_status("shop"))["pipelines"][0].get("rows") == 20 and s,
        "published figures",
        node,
    )
    assert status["state"] == "RUNNING" and status["desired"] == "START"
    row = status["pipelines"][0]
    assert row["tables"] == {"shop.orders": {"I": 20, "U": 0, "D": 0}} and (
        row["select_node"],
        row["load_node"],
    ) == (1, 1)
    [only] = runtime.nodes()
    assert (
        only["id"] == 1
        and only["alive"]
        and only["runs"] == ["shop/src-to-dst:load", "shop/src-to-dst:select"]
    )
    assert [s["channel"] for s in runtime.status()] == runtime.channels() == ["shop"]

    assert runtime.pause("shop")["desired"] == "PAUSE"
    # "paused" once the node published its permit closed (it follows the state znode through a watch)
    wait_until(
        lambda: runtime.channel_status("shop")["pipelines"][0].get("state") == "paused", "paused", node
    )
    insert(mariadb_source, range(21, 26))
    time.sleep(3)
    assert count(mariadb_target) == 20

    with pytest.raises(ChannelConflict, match="stop it before resetting"):
        runtime.reset_position("shop", "src-to-dst", requested_position({"file": file, "pos": pos}, None))
    runtime.stop("shop")
    wait_until(lambda: runtime.channel_status("shop")["state"] == "STOPPED", "stopped", node, runtime=runtime)
    mariadb_target.execute("DELETE FROM shop.orders")
    runtime.reset_position("shop", "src-to-dst", requested_position({"file": file, "pos": pos}, None))
    assert runtime.position("shop", "src-to-dst").pos == pos
    runtime.start("shop", yaml_text)
    wait_until(lambda: count(mariadb_target) == 25, "all 25 rows replayed from the reset position", node)


def test_node_gone_makes_the_channel_dead_and_the_node_not_alive(cluster, mariadb_source, mariadb_target):
    runtime, node = cluster
    for server in (mariadb_source, mariadb_target):
        server.execute(
            "CREATE DATABASE shop", "CREATE TABLE shop.orders (id INT PRIMARY KEY, note VARCHAR(50))"
        )
    yaml_text = pipeline_yaml(mariadb_source, mariadb_target, PAIRS, channel="shop", select_process=False)
    wait_until(lambda: runtime.nodes(), "node 1 registered", node)
    runtime.start("shop", yaml_text)
    wait_until(lambda: runtime.channel_status("shop")["state"] == "RUNNING", "running", node)
    node.kill()
    wait_until(
        lambda: runtime.channel_status("shop")["state"] == "DEAD",
        "DEAD after the node's session expired",
        node,
    )
    assert runtime.nodes() == [
        {"id": 1, "alive": False, "address": "", "hostname": "", "pid": None, "started": None, "runs": []}
    ]
    with pytest.raises(UnknownChannel, match="'nope' is not deployed"):
        runtime.pause("nope")


def test_a_stage_status_that_vanished_while_the_channel_stops_is_read_as_none_and_skipped():
    """The node removes a stage's status node as it stops; read between the listing of the stages and
    the read of that one, it is None. The channel's status must still answer (it raised, a 500 on
    /api/status, in a clean-clone CI run)."""
    runtime = ZooKeeperRuntime.__new__(ZooKeeperRuntime)  # no ZooKeeper needed for the row itself
    row = {
        "state": "STOP",
        "status": {"load": {"state": "stopped", "updated": 5.0, "rows": 15}, "select": None},
        "pipeline": "src-to-dst",
        "select_node": 1,
        "load_node": 1,
        "position": None,
        "placement": None,
    }
    status = runtime._channel_row("shop", [row], {1})
    assert status["state"] == "STOPPED" and status["updated"] == 5.0
    assert status["pipelines"][0]["rows"] == 15

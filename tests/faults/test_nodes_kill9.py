"""Three nodes on a real ZooKeeper; kill -9 of the nodes that hold the pipeline during a 100k-row workload
(50k rows for the arbitrate mode rpc variant, which kills the T/L node only: it keeps the file near 2 min).

The pipeline moves to a live node from the acked position (session timeout + grace period), the target
ends equal to the source row for row, and the stage history in ZooKeeper shows that two Selects of the
pipeline never ran at the same time.
"""

import os
import random
import threading
import time

import pytest
import yaml
from kazoo.client import KazooClient

from otter_core.testing.harness import pipeline_yaml
from otter_core.testing.nodes import NodeProcess
from tests.faults.test_kill9 import target_matches, write_workload

pytest.importorskip("otter_zookeeper")
pytestmark = pytest.mark.usefixtures("clean_databases")
SESSION_TIMEOUT = 2.0
GRACE = 2.0


def select_intervals(history, kills, stage="select"):
    """[(node, start, end)] of every run of ``stage``; a run cut by kill -9 ends at the kill."""
    open_runs, runs = {}, []
    for entry in history:
        if entry["stage"] != stage:
            continue
        node, when = entry["node"], entry["time"]
        if entry["event"] == "start":
            if node in open_runs:  # the node was killed in that run and came back
                start = open_runs.pop(node)
                runs.append((node, start, min(k for k in kills[node] if k >= start)))
            open_runs[node] = when
        elif node in open_runs:
            runs.append((node, open_runs.pop(node), when))
    for node, start in open_runs.items():
        ends = [k for k in kills.get(node, []) if k >= start]
        runs.append((node, start, min(ends) if ends else float("inf")))
    return sorted(runs, key=lambda run: run[1])


def stage_start_after(history, stage, when, exclude):
    for entry in history:
        if (
            entry["stage"] == stage
            and entry["event"] == "start"
            and entry["time"] > when
            and entry["node"] not in exclude
        ):
            return entry
    return None


def rpc_pipe_installed() -> bool:
    from importlib import metadata

    return any(ep.name == "rpc" for ep in metadata.entry_points(group="otter.pipes"))


LAYOUTS = {
    # every stage on one node at a time (memory pipe): kill node 1, then the node the pipeline moved to
    "whole": dict(select=[1, 2, 3], load=[1, 2, 3], pipe="memory", victims=[(1, "select"), (None, "select")]),
    # S/E on node 1, T/L on node 2, node 3 standby of both; batches cross nodes through the RPC pipe
    "split": dict(select=[1, 3], load=[2, 3], pipe="rpc", victims=[(1, "select"), (2, "load")]),
    # arbitrate mode rpc: the ready signals go node to node over gRPC and die with the T/L node (a kill -9 of
    # the S/E node in rpc mode: plugins/otter-zookeeper/tests/test_zk_rpc_mode.py)
    "split-rpc": dict(
        select=[1, 3], load=[2, 3], pipe="rpc", victims=[(2, "load")], arbitrate="rpc", rows=50_000
    ),
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_pipeline_moves_when_nodes_die_and_loses_nothing(
    mariadb_source, mariadb_target, zookeeper_server, tmp_path, layout
):
    from otter_zookeeper.admin import ClusterView, deploy
    from otter_zookeeper.layout import Layout
    from otter_zookeeper.placement import Placement

    spec = LAYOUTS[layout]
    if spec["pipe"] == "rpc" and not rpc_pipe_installed():
        pytest.skip("the rpc pipe (plugins/otter-grpc) is not installed: S/E and T/L cannot be on two nodes")
    for server in (mariadb_source, mariadb_target):
        server.execute(
            "CREATE DATABASE crash",
            "CREATE TABLE crash.ledger (id INT PRIMARY KEY, amount BIGINT, label VARCHAR(20), note VARCHAR(100))",
        )
    file, pos = mariadb_source.binlog_position()
    doc = yaml.safe_load(
        pipeline_yaml(
            mariadb_source,
            mariadb_target,
            ["crash.ledger"],
            start={"file": file, "pos": pos},
            batch_size=2000,
            parallelism=4,
            load_pool_size=3,
        )
    )
    doc["channels"][0]["pipelines"][0]["pipe"] = spec["pipe"]
    root = f"/otter-kill-{layout}-{int(time.time())}"
    zk = KazooClient(hosts=zookeeper_server.hosts, timeout=5.0)
    zk.start(timeout=15)
    view = ClusterView(zk, root)
    nodes = {
        i: NodeProcess(
            zookeeper_server.hosts, i, tmp_path, session_timeout=SESSION_TIMEOUT, root=root
        ).start()
        for i in (1, 2, 3)
    }
    deadline = time.monotonic() + 60
    while len(view.nodes()) < 3:  # deploy once every node is up, so that the preferred ones take their stages
        assert time.monotonic() < deadline, "".join(n.log_tail(1500) for n in nodes.values())
        time.sleep(0.1)
    deploy(
        zk,
        Layout(root),
        yaml.safe_dump(doc),
        "crash.yaml",
        default=Placement(spec["select"], spec["load"], spec.get("arbitrate", "automatic"), GRACE),
    )
    kills: dict[int, list[float]] = {1: [], 2: [], 3: []}
    moves = []
    rng = random.Random(int(os.environ.get("OTTER_KILL_SEED", "7")))
    done = threading.Event()
    history: list = []
    stages = {"select", "load"} if spec["select"] != spec["load"] else {"select"}
    try:
        deadline = time.monotonic() + 60

        def running_on_preferred(stage):  # holding the election is not enough: the stage must have started
            preferred = LAYOUTS[layout][stage][0]
            return view.holder("test", "src-to-dst", stage) == preferred and any(
                e["stage"] == stage and e["event"] == "start" and e["node"] == preferred
                for e in view.history("test", "src-to-dst")
            )

        while not all(running_on_preferred(stage) for stage in stages):
            assert time.monotonic() < deadline, "the preferred nodes never took their stages"
            time.sleep(0.1)
        writer = threading.Thread(
            target=write_workload,
            args=(mariadb_source, done),
            kwargs={"total": spec.get("rows", 100_000)},
            daemon=True,
        )
        writer.start()
        for victim, stage in spec["victims"]:
            time.sleep(rng.uniform(1.0, 4.0))
            victim = victim or view.holder("test", "src-to-dst", stage)
            assert victim is not None and nodes[victim].alive(), nodes[victim].log_tail()
            killed_at = nodes[victim].kill()
            kills[victim].append(killed_at)
            deadline = time.monotonic() + 60
            while (
                entry := stage_start_after(view.history("test", "src-to-dst"), stage, killed_at, {victim})
            ) is None:
                assert time.monotonic() < deadline, f"{stage} did not move after node {victim} died"
                time.sleep(0.1)
            moves.append((victim, stage, entry["node"], entry["time"] - killed_at))
            nodes[victim] = NodeProcess(
                zookeeper_server.hosts, victim, tmp_path, session_timeout=SESSION_TIMEOUT, root=root
            ).start()  # the restarted node rejoins as a standby
        writer.join(timeout=300)
        assert done.is_set(), "workload did not finish"
        deadline = time.monotonic() + 180
        while not target_matches(mariadb_source, mariadb_target):
            assert time.monotonic() < deadline, "target never caught up: " + "".join(
                n.log_tail(1500) for n in nodes.values()
            )
            time.sleep(0.5)
    finally:
        for node in nodes.values():
            node.stop()
        history = view.history("test", "src-to-dst")
        zk.stop()
        zk.close()
    key_query = "SELECT id, amount, label, note FROM crash.ledger ORDER BY id"
    assert mariadb_target.execute(key_query) == mariadb_source.execute(key_query)
    for stage in stages:
        runs = select_intervals(history, kills, stage)
        for before, after in zip(runs, runs[1:]):
            assert after[1] >= before[2], f"two {stage} stages overlapped: {before} and {after}"
        if stage in {victim_stage for _, victim_stage in spec["victims"]}:
            assert len(runs) >= 2, f"{stage} ran once only: {runs}; history: {history[-30:]}; kills: {kills}"
    for victim, stage, taker, seconds in moves:
        assert taker != victim
        if (
            taker != LAYOUTS[layout][stage][0]
        ):  # a standby waits the grace period; the preferred node does not
            assert seconds >= GRACE
        print(f"{layout}: node {victim} killed: {stage} moved to node {taker} in {seconds:.1f}s")

"""ZooKeeper mode pins ``start:`` like the state directory does (issue 18, item 2): resolved once, saved
in the pipeline's ``start`` znode before anything is read, used by every later holder until an ack."""

import threading

import pytest
from zk_support import wait_for

from otter_core.spi import PipelineRunner, Position, load_config_text
from otter_core.testing.harness import pipeline_yaml
from otter_zookeeper.arbitrator import ZooKeeperArbitrator
from otter_zookeeper.layout import Layout

CURRENT = {"kind": "current"}


def make(zk, root, node_id=1):
    return ZooKeeperArbitrator(zk, Layout(root), "test", "src-to-dst", node_id)


def test_a_pin_is_kept_for_every_later_holder(zk, zk_root):
    loader_side = make(zk, zk_root, node_id=2)  # holds the position znode's version from before the pin
    first = make(zk, zk_root)
    assert first.acked_position() is None
    first.pin_start(Position("bin.000003", 400), CURRENT)
    assert first.acked_position() == Position("bin.000003", 400)

    racer = make(zk, zk_root, node_id=3)  # pinned by another node meanwhile: the first pin stands
    racer.pin_start(Position("bin.000003", 900), {"kind": "gtid", "gtid": "0-1-9"})
    assert racer.acked_position() == Position("bin.000003", 400)
    assert racer.saved_start() == CURRENT

    loader_side.ack(1, Position("bin.000003", 700))  # the pin does not fence the acking stage off
    loader_side.flush()
    after = make(zk, zk_root)
    assert after.acked_position() == Position("bin.000003", 700)
    assert after.saved_start() == CURRENT


@pytest.mark.usefixtures("clean_databases")
def test_a_row_written_between_two_holders_arrives(zk, zk_root, mariadb_source, mariadb_target, tmp_path):
    """The first holder stops before any row; a row written before the next holder starts still arrives."""
    for server in (mariadb_source, mariadb_target):
        server.execute("CREATE DATABASE zpin", "CREATE TABLE zpin.t (id INT PRIMARY KEY, v VARCHAR(20))")
    config = load_config_text(pipeline_yaml(mariadb_source, mariadb_target, ["zpin.t"], start="current"))
    pipeline = config.channels[0].pipelines[0]

    def holder(node_id: int) -> tuple[PipelineRunner, threading.Thread]:
        runner = PipelineRunner(
            "test",
            pipeline,
            config.sources,
            str(tmp_path / f"node{node_id}"),
            arbitrator=make(zk, zk_root, node_id),
        )
        thread = threading.Thread(target=runner.run, daemon=True)
        thread.start()
        return runner, thread

    first, thread = holder(1)
    start_path = Layout(zk_root).pipeline("test", "src-to-dst", "start")
    wait_for(lambda: zk.exists(start_path), 60, "the pinned start in ZooKeeper")
    first.stop()
    thread.join(60)
    mariadb_source.execute("INSERT INTO zpin.t VALUES (1, 'between holders')")
    second, thread = holder(2)
    try:
        wait_for(
            lambda: mariadb_target.execute("SELECT v FROM zpin.t WHERE id = 1"), 90, "the row on the target"
        )
    finally:
        second.stop()
        thread.join(60)
    assert second.failure is None

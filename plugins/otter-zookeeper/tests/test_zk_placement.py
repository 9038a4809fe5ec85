"""Placement rules and the deploy/read API (real ZooKeeper for the latter)."""

import pytest

from otter_core.spi import ConfigError
from otter_zookeeper.admin import ClusterView, deploy, set_channel_state, undeploy
from otter_zookeeper.layout import Layout, check_name
from otter_zookeeper.placement import Placement

YAML = """
sources:
  src: {type: mysql, host: 127.0.0.1, port: 3306, user: u, password: secret}
  dst: {type: mysql, host: 127.0.0.1, port: 3307, user: u, password: secret}
channels:
  - name: shop
    pipelines:
      - {name: a-to-b, source: src, target: dst, pairs: [shop.orders]}
"""


def test_automatic_runs_whole_when_the_lists_match_and_splits_otherwise():
    assert not Placement([1, 2], [1, 2]).split
    assert Placement([1, 3], [2, 3]).split
    assert Placement([1], [1], "zookeeper").split
    assert Placement([1], [1], "rpc").split


def test_memory_mode_refuses_different_node_lists():
    with pytest.raises(ConfigError, match="memory runs every stage on one node"):
        Placement([1], [2], "memory")


def test_unknown_mode_and_empty_lists_are_refused():
    with pytest.raises(ConfigError, match="unknown arbitrate mode"):
        Placement([1], [1], "carrier-pigeon")
    with pytest.raises(ConfigError, match="at least one"):
        Placement([], [1])


def test_placement_round_trips_through_json():
    placement = Placement([1, 3], [2, 3], "zookeeper", 2.5)
    assert Placement.from_dict(placement.to_dict()) == placement


def test_names_that_cannot_be_znodes_are_refused():
    with pytest.raises(ConfigError, match="cannot be used in ZooKeeper"):
        check_name("channel", "shop/../x")


def test_deploy_writes_config_and_placement_and_keeps_positions(zk, zk_root):
    layout = Layout(zk_root)
    deploy(zk, layout, YAML, "shop.yaml", default=Placement([1, 3], [2, 3], grace_seconds=5))
    zk.set(layout.pipeline("shop", "a-to-b", "position"), b'{"position": {"file": "b.1", "pos": 4}}')
    deploy(zk, layout, YAML, "shop.yaml", default=Placement([2], [2]))
    rows = ClusterView(zk, zk_root).pipelines()
    assert [(r["channel"], r["pipeline"], r["state"]) for r in rows] == [("shop", "a-to-b", "START")]
    assert rows[0]["placement"]["select"] == [2] and rows[0]["position"]["position"]["pos"] == 4
    assert zk.get(layout.channel_config("shop"))[0].decode() == YAML
    set_channel_state(zk, layout, "shop", "pause")
    assert ClusterView(zk, zk_root).pipelines()[0]["state"] == "PAUSE"
    undeploy(zk, layout, "shop")
    assert ClusterView(zk, zk_root).pipelines() == []


def test_deploy_refuses_a_bad_file_with_its_line(zk, zk_root):
    with pytest.raises(ConfigError, match="shop.yaml:"):
        deploy(zk, Layout(zk_root), YAML.replace("pairs", "pears"), "shop.yaml", default=Placement([1], [1]))
    assert ClusterView(zk, zk_root).pipelines() == []


def test_a_stage_without_a_status_is_left_out_of_the_pipeline_status(zk, zk_root):
    """A stopping node removes its stage's status node; one read after the listing, or left empty, is not
    a stage status (the manager's /api/status answered 500 on it)."""
    layout = Layout(zk_root)
    deploy(zk, layout, YAML, "shop.yaml", default=Placement([1], [1]))
    status = layout.pipeline("shop", "a-to-b", "status")
    zk.ensure_path(f"{status}/select")  # created, no figures written (yet, or any more)
    zk.create(f"{status}/load", b'{"state": "stopped", "updated": 5.0}')
    assert ClusterView(zk, zk_root).pipelines()[0]["status"] == {"load": {"state": "stopped", "updated": 5.0}}

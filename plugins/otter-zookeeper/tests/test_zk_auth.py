"""Digest authentication: with credentials, the deployed config (it holds passwords) is readable by otter only."""

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import NoAuthError
from zk_support import wait_for

from otter_core.spi import ConfigError
from otter_core.testing.harness import pipeline_yaml
from otter_core.testing.mariadb import OTTER_PASSWORD
from otter_zookeeper.admin import ClusterView, connect, deploy
from otter_zookeeper.auth import ZooKeeperAuth
from otter_zookeeper.cli import add_commands
from otter_zookeeper.layout import Layout
from otter_zookeeper.node import Node
from otter_zookeeper.placement import Placement

AUTH = ZooKeeperAuth("otter", "s3cret-zk")


@pytest.fixture
def stranger(zookeeper_server):
    client = KazooClient(hosts=zookeeper_server.hosts, timeout=5.0)
    client.start(timeout=15)
    yield client
    client.stop()
    client.close()


def deploy_protected(zookeeper_server, zk_root, text=None):
    """Deploy ``text`` with the credentials, or only create the root's channels znode when there is none."""
    zk = connect(zookeeper_server.hosts, auth=AUTH)
    try:
        if text is None:
            zk.ensure_path(Layout(zk_root).channels)
        else:
            deploy(zk, Layout(zk_root), text, "p.yaml", default=Placement([1], [1], "automatic", 0))
    finally:
        zk.stop()
        zk.close()


def test_credentials_come_from_a_file_or_the_environment(tmp_path, monkeypatch):
    secret = tmp_path / "zk.auth"
    secret.write_text("otter:from-file\n")
    monkeypatch.setenv("OTTER_ZK_AUTH", "otter:from-env")
    assert ZooKeeperAuth.resolve(str(secret)) == ZooKeeperAuth("otter", "from-file")
    assert ZooKeeperAuth.resolve() == ZooKeeperAuth("otter", "from-env")
    assert "from-env" not in repr(ZooKeeperAuth.resolve())
    monkeypatch.delenv("OTTER_ZK_AUTH")
    assert ZooKeeperAuth.resolve() is None
    secret.write_text("no-colon-here\n")
    with pytest.raises(ConfigError, match="expected one line 'user:password'"):
        ZooKeeperAuth.resolve(str(secret))
    with pytest.raises(ConfigError, match="cannot read the ZooKeeper credentials file"):
        ZooKeeperAuth.resolve(str(tmp_path / "missing"))


def test_a_client_without_the_credentials_cannot_read_the_deployed_config(
    zookeeper_server, zk_root, stranger, mariadb_source, mariadb_target
):
    text = pipeline_yaml(mariadb_source, mariadb_target, ["zka.t"], start="current")
    deploy_protected(zookeeper_server, zk_root, text)
    config_path = Layout(zk_root).channel_config("test")
    assert stranger.exists(config_path), "the znode exists (exists() needs no right)"
    with pytest.raises(NoAuthError):
        stranger.get(config_path)
    with pytest.raises(NoAuthError):
        stranger.get_children(zk_root)
    wrong = ZooKeeperAuth("otter", "not-the-password")
    with pytest.raises(ConfigError, match=f"denied access to {zk_root}.*--zk-auth-file"):
        connect(zookeeper_server.hosts, auth=wrong, root=zk_root)
    zk = connect(zookeeper_server.hosts, auth=AUTH, root=zk_root)
    try:
        data, _ = zk.get(config_path)
        assert OTTER_PASSWORD.encode() in data, "otter itself reads the config back"
    finally:
        zk.stop()
        zk.close()


def test_a_node_with_the_credentials_registers_and_one_without_is_refused(
    zookeeper_server, zk_root, tmp_path
):
    deploy_protected(zookeeper_server, zk_root)
    with pytest.raises(ConfigError, match="denied access"):
        Node(
            zookeeper_server.hosts,
            2,
            root=zk_root,
            state_dir=str(tmp_path / "n2"),
            session_timeout=2.0,
            zk_auth=ZooKeeperAuth("otter", "wrong"),
        ).start()
    node = Node(
        zookeeper_server.hosts,
        1,
        root=zk_root,
        state_dir=str(tmp_path / "n1"),
        session_timeout=2.0,
        zk_auth=AUTH,
    ).start()
    try:
        zk = connect(zookeeper_server.hosts, auth=AUTH)
        try:
            nodes = wait_for(lambda: ClusterView(zk, zk_root).nodes(), 20, "node 1 registered")
            assert [n["id"] for n in nodes] == [1]
            registered = Layout(zk_root).node(1)
            acl, _ = zk.get_acls(registered)
            assert [(a.id.scheme, a.id.id.split(":")[0]) for a in acl] == [("digest", "otter")]
        finally:
            zk.stop()
            zk.close()
    finally:
        node.stop()


def test_every_distributed_command_takes_a_credentials_file():
    import argparse

    parser = argparse.ArgumentParser()
    add_commands(parser.add_subparsers(dest="command"))
    for argv in (
        ["node", "--zk", "h:1", "--id", "1"],
        ["deploy", "f.yaml", "--zk", "h:1", "--select", "1"],
        ["cluster", "status", "--zk", "h:1"],
    ):
        assert (
            parser.parse_args(argv + ["--zk-auth-file", "/etc/otter/zk.auth"]).zk_auth_file
            == "/etc/otter/zk.auth"
        )

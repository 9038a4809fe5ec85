"""The node registry: each live node holds an ephemeral znode ``ROOT/nodes/<id>`` with its addresses."""

from __future__ import annotations

import os
import socket
import time
from typing import Any

from attrs import frozen
from kazoo.client import KazooClient
from kazoo.exceptions import NodeExistsError, NoNodeError

from otter_core.spi import ConfigError
from otter_zookeeper.layout import Layout, decode, encode


@frozen
class NodeInfo:
    """What a node tells the others: its id, where its pipe server is reached, and who it is."""

    node_id: int
    advertised_host: str = "127.0.0.1"
    pipe_port: int = 0
    hostname: str = ""
    pid: int = 0
    started: float = 0.0

    @property
    def address(self) -> str:
        return f"{self.advertised_host}:{self.pipe_port}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.node_id,
            "advertised_host": self.advertised_host,
            "pipe_port": self.pipe_port,
            "hostname": self.hostname,
            "pid": self.pid,
            "started": self.started,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NodeInfo:
        return cls(
            int(data["id"]),
            data.get("advertised_host", ""),
            int(data.get("pipe_port", 0)),
            data.get("hostname", ""),
            int(data.get("pid", 0)),
            float(data.get("started", 0.0)),
        )

    @classmethod
    def here(cls, node_id: int, advertised_host: str, pipe_port: int = 0) -> NodeInfo:
        return cls(node_id, advertised_host, pipe_port, socket.gethostname(), os.getpid(), time.time())


def register(zk: KazooClient, layout: Layout, info: NodeInfo, wait_seconds: float = 0.0) -> None:
    """Create this node's ephemeral znode. A live node with the same id is refused (two processes with
    one id would both run its stages); ``wait_seconds`` lets a restarted node wait for its own previous
    session to expire."""
    zk.ensure_path(layout.nodes)
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            zk.create(layout.node(info.node_id), encode(info.to_dict()), ephemeral=True)
            return
        except NodeExistsError:
            if time.monotonic() >= deadline:
                other = live_nodes(zk, layout).get(info.node_id)
                raise ConfigError(
                    f"node id {info.node_id} is already registered in ZooKeeper ({other}): "
                    f"give every node its own --id, or wait until the old one's session expired"
                ) from None
            time.sleep(0.2)


def update(zk: KazooClient, layout: Layout, info: NodeInfo) -> None:
    zk.set(layout.node(info.node_id), encode(info.to_dict()))


def live_nodes(zk: KazooClient, layout: Layout) -> dict[int, NodeInfo]:
    """Every registered node by id."""
    try:
        children = zk.get_children(layout.nodes)
    except NoNodeError:
        return {}
    found = {}
    for child in children:
        try:
            data, _ = zk.get(f"{layout.nodes}/{child}")
        except NoNodeError:
            continue
        info = NodeInfo.from_dict(decode(data, {"id": child}))
        found[info.node_id] = info
    return found

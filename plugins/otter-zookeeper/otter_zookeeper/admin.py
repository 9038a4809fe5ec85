"""Write and read the cluster's znodes: ``otter-run deploy`` and the read API the manager calls.

Everything here is plain reads and writes of the layout in ``layout.py``; a node never needs this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError

from otter_core.spi import CHANNEL_STATES as STATES
from otter_core.spi import ConfigError, load_config_text
from otter_zookeeper.auth import ZooKeeperAuth, check_access, make_client
from otter_zookeeper.layout import STAGE_LOAD, STAGE_SELECT, Layout, decode, encode
from otter_zookeeper.placement import Placement
from otter_zookeeper.registry import live_nodes


def connect(
    hosts: str, timeout: float = 15.0, auth: ZooKeeperAuth | None = None, root: str | None = None
) -> KazooClient:
    """A started kazoo client, or a ConfigError naming the hosts.

    ``auth`` defaults to ``$OTTER_ZK_AUTH``; with ``root`` given, a root this client may not read fails here.
    """
    zk = make_client(hosts, 10.0, auth if auth is not None else ZooKeeperAuth.resolve())
    try:
        zk.start(timeout=timeout)
    except Exception as exc:
        zk.close()
        raise ConfigError(f"cannot connect to ZooKeeper at {hosts!r}: {exc!r}; check --zk") from None
    if root:
        try:
            check_access(zk, root)
        except ConfigError:
            zk.stop()
            zk.close()
            raise
    return zk


def _put(zk: KazooClient, path: str, value: bytes) -> None:
    if zk.exists(path):
        zk.set(path, value)
    else:
        zk.create(path, value, makepath=True)


def deploy(
    zk: KazooClient,
    layout: Layout,
    yaml_text: str,
    filename: str,
    placements: Mapping[tuple[str, str], Placement] | None = None,
    default: Placement | None = None,
) -> list[tuple[str, str, Placement]]:
    """Validate the YAML and write every channel's config and every pipeline's placement.

    ``placements`` maps (channel, pipeline) to a placement; others take ``default``. Acked positions
    are kept: a redeploy changes config and placement, never where a pipeline resumes."""
    config = load_config_text(yaml_text, filename)
    written = []
    for channel in config.channels:
        _put(zk, layout.channel_config(channel.name), yaml_text.encode())
        if not zk.exists(layout.channel_state(channel.name)):
            zk.create(layout.channel_state(channel.name), b"START", makepath=True)
        for pipeline in channel.pipelines:
            placement = (placements or {}).get((channel.name, pipeline.name), default)
            if placement is None:
                raise ConfigError(
                    f"no placement for pipeline {channel.name}/{pipeline.name}: give --select "
                    f"and --load node ids"
                )
            for leaf in ("position", "permit", "ready", "history"):
                zk.ensure_path(layout.pipeline(channel.name, pipeline.name, leaf))
            _put(zk, layout.pipeline(channel.name, pipeline.name, "placement"), encode(placement.to_dict()))
            written.append((channel.name, pipeline.name, placement))
    return written


def undeploy(zk: KazooClient, layout: Layout, channel: str) -> None:
    """Remove a channel, its pipelines and their positions (nodes stop its stages at once)."""
    zk.delete(layout.channel(channel), recursive=True)


def set_channel_state(zk: KazooClient, layout: Layout, channel: str, state: str) -> None:
    state = state.upper()
    if state not in STATES:
        raise ConfigError(f"unknown channel state {state!r}: use one of {', '.join(STATES)}")
    if not zk.exists(layout.channel(channel)):
        raise ConfigError(f"channel {channel!r} is not deployed in ZooKeeper (see `otter-run deploy`)")
    _put(zk, layout.channel_state(channel), state.encode())


class ClusterView:
    """Read-only picture of the cluster, for the manager and ``otter-run node-status``."""

    def __init__(self, zk: KazooClient, root: str = "/otter") -> None:
        self.zk = zk
        self.layout = Layout(root)

    def _get(self, path: str, default: Any = None) -> Any:
        try:
            data, _ = self.zk.get(path)
        except NoNodeError:
            return default
        return decode(data, default)

    def nodes(self) -> list[dict[str, Any]]:
        """Live nodes: id, advertised address, host name, pid, start time."""
        return [info.to_dict() for _, info in sorted(live_nodes(self.zk, self.layout).items())]

    def holder(self, channel: str, pipeline: str, stage: str) -> int | None:
        """The node id that holds ``stage`` (``select`` or ``load``) of a pipeline now, or None."""
        path = self.layout.election(channel, pipeline, stage)
        try:
            contenders = self.zk.Election(path).contenders()
        except NoNodeError:
            return None
        return int(contenders[0]) if contenders else None

    def pipelines(self) -> list[dict[str, Any]]:
        """Every deployed pipeline: placement, channel state, permit, acked position, stage holders."""
        rows: list[dict[str, Any]] = []
        try:
            channels = sorted(self.zk.get_children(self.layout.channels))
        except NoNodeError:
            return rows
        for channel in channels:
            try:
                state = self.zk.get(self.layout.channel_state(channel))[0].decode() or "START"
                names = sorted(self.zk.get_children(self.layout.pipelines(channel)))
            except NoNodeError:
                continue
            for name in names:
                path = self.layout.pipeline
                placement = self._get(path(channel, name, "placement"))
                rows.append(
                    {
                        "channel": channel,
                        "pipeline": name,
                        "state": state,
                        "placement": placement,
                        "permit": self._get(path(channel, name, "permit"), {"allowed": True, "reason": ""}),
                        "position": self._get(path(channel, name, "position")),
                        "epoch": self._get(path(channel, name, "epoch"), {"epoch": 0})["epoch"],
                        "status": self._stage_status(channel, name),
                        "select_node": self.holder(channel, name, STAGE_SELECT),
                        "load_node": (
                            self.holder(channel, name, STAGE_LOAD)
                            if placement and Placement.from_dict(placement).split
                            else self.holder(channel, name, STAGE_SELECT)
                        ),
                    }
                )
        return rows

    def _stage_status(self, channel: str, pipeline: str) -> dict[str, Any]:
        """stage -> the progress its node published (rows, rows/s, lag, position, error, updated); a stage
        whose status node its stopping node removed after the listing (or left empty) is not in it."""
        path = self.layout.pipeline(channel, pipeline, "status")
        try:
            stages = self.zk.get_children(path)
        except NoNodeError:
            return {}
        found = {stage: self._get(f"{path}/{stage}") for stage in sorted(stages)}
        return {stage: status for stage, status in found.items() if status is not None}

    def history(self, channel: str, pipeline: str) -> list[dict[str, Any]]:
        """Stage starts and stops of a pipeline, oldest first: {node, stage, event, time, ...}."""
        path = self.layout.pipeline(channel, pipeline, "history")
        try:
            children = sorted(self.zk.get_children(path))
        except NoNodeError:
            return []
        return [entry for entry in (self._get(f"{path}/{child}") for child in children) if entry]

"""ZooKeeperRuntime: channels run on ``otter-run node`` processes coordinated through ZooKeeper.

The manager deploys a channel's YAML and placement (``otter_zookeeper.admin.deploy``), sets its state
znode for start/pause/stop, and reads what the nodes publish: live nodes, the stage holders of every
pipeline and their status znodes (the same figures as ``otter-run run --status-file``). Nodes keep running
their pipelines while the manager is down; nothing here runs a pipeline itself.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from otter_core.spi import ConfigError, Position
from otter_manager.ops.errors import ChannelConflict, UnknownChannel

STALE_SECONDS = 15.0  # nodes publish every 2 s


class ZooKeeperRuntime:
    """The same calls as LocalRuntime, answered from and written to ZooKeeper (plugin otter-zookeeper)."""

    def __init__(self, hosts: str, root: str = "/otter") -> None:
        try:
            from otter_zookeeper import admin
            from otter_zookeeper.layout import Layout
        except ImportError:
            raise ConfigError("--zk needs the otter-zookeeper plugin: pip install otter-zookeeper") from None
        self.admin = admin
        self.hosts = hosts
        self.layout = Layout(root)
        self.root = root
        self._zk = None
        self._lock = threading.Lock()

    @property
    def zk(self):
        with self._lock:
            if self._zk is None or not self._zk.connected:
                self._zk = self.admin.connect(self.hosts, root=self.root)
            return self._zk

    def view(self):
        return self.admin.ClusterView(self.zk, self.root)

    def close(self) -> None:
        if self._zk is not None:
            self._zk.stop()
            self._zk.close()

    # -- control ----------------------------------------------------------------------------------
    def start(
        self, channel: str, yaml_text: str, select: list[int] | None = None, load: list[int] | None = None
    ) -> dict[str, Any]:
        """Deploy the channel (config and placement) and set it to START. Without node lists the first live
        node runs every stage, the other live nodes stand by."""
        from otter_zookeeper.placement import Placement

        live = [n["id"] for n in self.view().nodes()]
        if not select and not live:
            raise ChannelConflict(
                f"channel {channel!r}: no live node in ZooKeeper at {self.hosts} to run it: "
                f"start `otter-run node --zk {self.hosts} --id N` first"
            )
        placement = Placement(select or live, load or select or live)
        self.admin.deploy(self.zk, self.layout, yaml_text, f"{channel}.yaml", default=placement)
        self.admin.set_channel_state(self.zk, self.layout, channel, "START")
        return self.channel_status(channel)

    def pause(self, channel: str) -> dict[str, Any]:
        self._deployed(channel)
        self.admin.set_channel_state(self.zk, self.layout, channel, "PAUSE")
        return self.channel_status(channel)

    def stop(self, channel: str, timeout: float = 60.0) -> dict[str, Any]:
        self._deployed(channel)
        self.admin.set_channel_state(self.zk, self.layout, channel, "STOP")
        return self.channel_status(channel)

    def _deployed(self, channel: str) -> list[dict[str, Any]]:
        rows = [r for r in self.view().pipelines() if r["channel"] == channel]
        if not rows:
            raise UnknownChannel(f"channel {channel!r} is not deployed in ZooKeeper")
        return rows

    # -- what runs --------------------------------------------------------------------------------
    def channel_status(self, channel: str) -> dict[str, Any]:
        return self._channel_row(channel, self._deployed(channel), self._live())

    def _live(self) -> set[int]:
        return {n["id"] for n in self.view().nodes()}

    def _channel_row(self, channel: str, rows: list[dict[str, Any]], live: set[int]) -> dict[str, Any]:
        """RUNNING/PAUSED while a node runs a stage; STOPPED; WAITING for a placed live node to take it;
        DEAD when no node of its placement is alive."""
        desired = rows[0]["state"]
        pipelines, running, updated = [], False, 0.0
        for row in rows:
            stages = row["status"]  # stage -> published figures; a split pipeline's loads are in "load"
            figures = dict(stages.get("load") or stages.get("select") or {})
            running = running or any(
                s.get("state") not in ("stopped", "failed") for s in stages.values() if s
            )
            # a stage's status node removed by its stopping node between listing and reading: None
            updated = max([updated] + [s.get("updated", 0.0) for s in stages.values() if s])
            figures.update(
                {
                    "pipeline": row["pipeline"],
                    "channel": channel,
                    "select_node": row["select_node"],
                    "load_node": row["load_node"],
                }
            )
            figures.setdefault("state", "stopped" if desired == "STOP" else "waiting for a node")
            figures.setdefault("position", _position_text(row["position"]))
            pipelines.append(figures)  # "paused" only once the node published its permit closed
        if running:
            state = "PAUSED" if desired == "PAUSE" else "RUNNING"
        elif desired == "STOP":
            state = "STOPPED"
        else:
            placed = {n for r in rows for n in (r["placement"] or {}).get("select", [])}
            state = "WAITING" if placed & live else "DEAD"
        return {
            "channel": channel,
            "state": state,
            "desired": desired,
            "pid": None,
            "node": "zookeeper",
            "updated": updated,
            "stale": running and time.time() - updated > STALE_SECONDS,
            "pipelines": pipelines,
        }

    def channels(self) -> list[str]:
        """Every channel deployed in ZooKeeper, by name."""
        return sorted({row["channel"] for row in self.view().pipelines()})

    def status(self) -> list[dict[str, Any]]:
        by_channel: dict[str, list[dict[str, Any]]] = {}
        for row in self.view().pipelines():
            by_channel.setdefault(row["channel"], []).append(row)
        live = self._live()
        return [self._channel_row(name, rows, live) for name, rows in sorted(by_channel.items())]

    def nodes(self) -> list[dict[str, Any]]:
        """Live nodes and the nodes named in placements that are not live (dead), with what each runs."""
        view = self.view()
        live = {n["id"]: n for n in view.nodes()}
        placed: set[int] = set()
        runs: dict[int, list[str]] = {}
        for row in view.pipelines():
            placement = row["placement"] or {}
            placed.update(placement.get("select", []) + placement.get("load", []))
            for stage, node in (("select", row["select_node"]), ("load", row["load_node"])):
                if node is not None:
                    runs.setdefault(node, []).append(f"{row['channel']}/{row['pipeline']}:{stage}")
        rows = []
        for node_id in sorted(set(live) | placed):
            info = live.get(node_id, {})
            rows.append(
                {
                    "id": node_id,
                    "alive": node_id in live,
                    "address": f"{info.get('advertised_host', '')}:{info.get('pipe_port', '')}"
                    if info
                    else "",
                    "hostname": info.get("hostname", ""),
                    "pid": info.get("pid"),
                    "started": info.get("started"),
                    "runs": sorted(set(runs.get(node_id, []))),
                }
            )
        return rows

    # -- positions ----------------------------------------------------------------------------------
    def position(self, channel: str, pipeline: str) -> Position | None:
        row = next((r for r in self._deployed(channel) if r["pipeline"] == pipeline), None)
        if row is None:
            raise UnknownChannel(f"channel {channel!r} has no pipeline {pipeline!r} in ZooKeeper")
        saved = row["position"]
        return Position.from_dict(saved["position"]) if saved else None

    def reset_position(self, channel: str, pipeline: str, position: Position) -> None:
        """Write the pipeline's position znode; the channel must be stopped and no node run its stages."""
        from otter_zookeeper.layout import encode

        rows = self._deployed(channel)
        row = next((r for r in rows if r["pipeline"] == pipeline), None)
        if row is None:
            raise UnknownChannel(f"channel {channel!r} has no pipeline {pipeline!r} in ZooKeeper")
        if self._channel_row(channel, rows, self._live())["state"] != "STOPPED":
            raise ChannelConflict(
                f"channel {channel!r} is running: stop it before resetting the position of "
                f"pipeline {pipeline!r}"
            )
        process_id = (row["position"] or {}).get("process_id", 0)
        payload = encode({"position": position.to_dict(), "process_id": process_id, "node": "manager"})
        self.zk.set(self.layout.pipeline(channel, pipeline, "position"), payload)

    def rejects(self, channel: str, pipeline: str) -> list[dict]:
        raise ConfigError(
            "reject logs stay on the nodes in distributed mode: read "
            f"STATE_DIR/{channel}/{pipeline}.rejects.jsonl on the node that loads the pipeline"
        )


def _position_text(saved: dict | None) -> str:
    return str(Position.from_dict(saved["position"])) if saved else ""

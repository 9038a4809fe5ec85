"""``otter-run node``: a worker process that takes the pipeline stages ZooKeeper assigns to it.

The node registers ``ROOT/nodes/<id>`` (ephemeral), watches ``ROOT/channels`` for deployed pipelines and,
for each pipeline whose placement names it, runs a ``StageWorker`` per stage (one when the pipeline runs
whole, two when S/E and T/L are split). When the ZooKeeper connection is suspended or the session is
lost, every running stage is stopped at once: a node that cannot prove it still holds an election never
selects or loads (no split brain); it contends again once the session is back.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from kazoo.client import KazooState
from kazoo.exceptions import KazooException

from otter_core.spi import (
    ConfigError,
    NodeContext,
    PipelinePlugins,
    PipelineRunner,
    load_config_text,
    memory_arbitrator,
    memory_pipe,
)
from otter_zookeeper.arbitrator import ZooKeeperArbitrator
from otter_zookeeper.auth import ZooKeeperAuth, check_access, make_client
from otter_zookeeper.layout import STAGE_LOAD, STAGE_SELECT, Layout, decode
from otter_zookeeper.placement import Placement
from otter_zookeeper.registry import NodeInfo, live_nodes, register
from otter_zookeeper.signals import ZooKeeperSignals
from otter_zookeeper.stage_worker import StageWorker, record_history
from otter_zookeeper.status import run_publisher

log = logging.getLogger("otter.node")


class PipelineSlot:
    """A deployed pipeline as one node sees it: its placement, config, pipe and stage workers."""

    def __init__(self, node: Node, channel: str, pipeline: str) -> None:
        self.node = node
        self.channel = channel
        self.pipeline = pipeline
        self.path = node.layout.pipeline(channel, pipeline)
        self.history_path = node.layout.pipeline(channel, pipeline, "history")
        self.placement: Placement | None = None
        self.workers: dict[str, StageWorker] = {}
        self._pipe: Any = None
        self._lock = threading.Lock()
        node.zk.DataWatch(f"{self.path}/placement", self._on_placement)

    def _on_placement(self, data: bytes | None, _stat: Any) -> None:
        try:
            self.placement = Placement.from_dict(decode(data)) if data else None
        except Exception as exc:  # a bad placement stops nothing else on this node
            log.error("[%s/%s] unreadable placement %r: %s", self.channel, self.pipeline, data, exc)
            self.placement = None
        if self.placement is not None:
            self._ensure_workers(self.placement)

    def _ensure_workers(self, placement: Placement) -> None:
        with self._lock:
            stages = [STAGE_SELECT, STAGE_LOAD] if placement.split else [STAGE_SELECT]
            for stage in stages:
                if stage not in self.workers:
                    self.workers[stage] = StageWorker(self, stage).start()

    def wants(self, stage: str) -> bool:
        """Whether ``stage`` exists in the current placement and the channel is not stopped."""
        placement = self.placement
        if placement is None or (stage == STAGE_LOAD and not placement.split):
            return False
        return self.node.channel_state(self.channel) != "STOP"

    def placement_grace(self) -> float:
        return self.placement.grace_seconds if self.placement else 0.0

    def election_path(self, stage: str) -> str:
        return self.node.layout.election(self.channel, self.pipeline, stage)

    def is_contending(self, stage: str, node_id: int) -> bool:
        try:
            return str(node_id) in self.node.zk.Election(self.election_path(stage)).contenders()
        except KazooException:
            return False

    def pipe(self, pipeline_model: Any) -> Any:
        """One pipe per pipeline and node, shared by its S/E and T/L stages (memory pipe across them)."""
        with self._lock:
            if self._pipe is None:
                plugins = PipelinePlugins(pipeline_model, builtins=[memory_pipe, memory_arbitrator])
                self._pipe = plugins.pipe(node=self.node.context)
            return self._pipe

    def make_runner(self, stage: str) -> PipelineRunner:
        from otter_core.spi import SelectExtractRunner, TransformLoadRunner

        config = self.node.read_config(self.channel)
        channel = next(c for c in config.channels if c.name == self.channel)
        model = next(p for p in channel.pipelines if p.name == self.pipeline)
        args = (self.node.zk, self.node.layout, self.channel, self.pipeline, self.node.node_id)
        state_dir = str(self.node.state_dir)
        placement = self.placement
        if placement is None or not placement.split:
            return PipelineRunner(
                self.channel,
                model,
                config.sources,
                state_dir,
                arbitrator=ZooKeeperArbitrator(*args),
                pipe=self.pipe(model),
            )
        kind = SelectExtractRunner if stage == STAGE_SELECT else TransformLoadRunner
        if placement.arbitrate == "rpc":
            from otter_zookeeper.rpc_signals import RpcSignals

            signals: ZooKeeperSignals | RpcSignals = RpcSignals(*args, node=self.node.context)
        else:
            signals = ZooKeeperSignals(*args)
        return kind(
            self.channel,
            model,
            config.sources,
            state_dir,
            signals,
            self.pipe(model),
            node_id=self.node.node_id,
        )

    def interrupt(self) -> None:
        for worker in list(self.workers.values()):
            worker.interrupt()

    def stop(self) -> None:
        for worker in list(self.workers.values()):
            worker.stop()

    def join(self, timeout: float) -> None:
        for worker in list(self.workers.values()):
            worker.join(timeout)
        close = getattr(self._pipe, "close", None)
        if close is not None:
            close()


class Node:
    """Start with ``start()``; ``stop()`` gives every stage up after its batches in flight are acked."""

    def __init__(
        self,
        zk_hosts: str,
        node_id: int,
        *,
        root: str = "/otter",
        state_dir: str | None = None,
        session_timeout: float = 10.0,
        context: NodeContext | None = None,
        zk_auth: ZooKeeperAuth | None = None,
    ) -> None:
        self.zk_hosts = zk_hosts
        self.node_id = int(node_id)
        self.layout = Layout(root)
        self.state_dir = Path(state_dir or f"./otter-node-{node_id}")
        self.session_timeout = session_timeout
        self.context = context or NodeContext(node_id=self.node_id, zk_hosts=zk_hosts)
        self.zk = make_client(
            zk_hosts, session_timeout, zk_auth if zk_auth is not None else ZooKeeperAuth.resolve()
        )
        self.slots: dict[tuple[str, str], PipelineSlot] = {}
        self._channel_states: dict[str, str] = {}
        self._watched_channels: set[str] = set()
        self._session_ok = threading.Event()
        self._stopping = threading.Event()
        self._pending_history: list[tuple[PipelineSlot, str, str, float]] = []
        self._live: set[int] = set()
        self._reconnected = threading.Event()

    # -- session ----------------------------------------------------------------------------------------
    def session_ok(self) -> bool:
        return self._session_ok.is_set() and not self._stopping.is_set()

    def _on_state(self, state: str) -> None:
        """kazoo calls this from its connection thread: only flip flags and stop runners here."""
        if state in (KazooState.SUSPENDED, KazooState.LOST):
            if self._session_ok.is_set():
                log.warning(
                    "node %s: ZooKeeper session %s: stopping every stage now", self.node_id, state.lower()
                )
            self._session_ok.clear()
            for slot in list(self.slots.values()):
                slot.interrupt()
            if state == KazooState.LOST:
                self._reconnected.clear()
        elif state == KazooState.CONNECTED:
            self._reconnected.set()

    def record_later(self, slot: PipelineSlot, stage: str, event: str) -> None:
        self._pending_history.append((slot, stage, event, time.time()))

    def _keeper(self) -> None:
        """Re-register after a lost session, flush history recorded while disconnected."""
        while not self._stopping.is_set():
            self._reconnected.wait(0.5)
            if self._stopping.is_set() or not self._reconnected.is_set() or self._session_ok.is_set():
                continue
            try:
                if not self.zk.exists(self.layout.node(self.node_id)):
                    register(self.zk, self.layout, self._info(), wait_seconds=self.session_timeout * 2)
                while self._pending_history:
                    slot, stage, event, when = self._pending_history.pop(0)
                    record_history(
                        self.zk,
                        slot.history_path,
                        self.node_id,
                        stage,
                        event,
                        when=when,
                        note="recorded after the session came back",
                    )
                self._session_ok.set()
                log.info("node %s: ZooKeeper session is back: contending again", self.node_id)
            except Exception as exc:
                log.warning("node %s: cannot re-register yet: %r", self.node_id, exc)
                time.sleep(0.5)

    def _info(self) -> NodeInfo:
        return NodeInfo.here(self.node_id, self.context.advertised_host, self.context.pipe_port)

    # -- registry and config ----------------------------------------------------------------------------
    def live_node_ids(self) -> set[int]:
        return set(self._live)

    def _on_nodes(self, children: list[str]) -> None:
        self._live = {int(c) for c in children if c.isdigit()}

    def address_of(self, node_id: int) -> str | None:
        info = live_nodes(self.zk, self.layout).get(int(node_id))
        return info.address if info else None

    def channel_state(self, channel: str) -> str:
        return self._channel_states.get(channel, "START")

    def read_config(self, channel: str) -> Any:
        data, _ = self.zk.get(self.layout.channel_config(channel))
        return load_config_text(data.decode(), f"zookeeper:{self.layout.channel_config(channel)}")

    def _on_channels(self, children: list[str]) -> None:
        for channel in children:
            if channel in self._watched_channels:
                continue
            self._watched_channels.add(channel)
            self.zk.ensure_path(self.layout.pipelines(channel))
            # kazoo calls a DataWatch function with (data, stat, event) when it takes three arguments:
            # the channel must be keyword-only, or the event would arrive in its place
            self.zk.DataWatch(
                self.layout.channel_state(channel),
                lambda data, _stat, _event=None, *, ch=channel: self._on_channel_state(ch, data),
            )
            self.zk.ChildrenWatch(
                self.layout.pipelines(channel), lambda names, ch=channel: self._on_pipelines(ch, names)
            )

    def _on_channel_state(self, channel: str, data: bytes | None) -> None:
        self._channel_states[channel] = (data or b"START").decode().strip().upper()

    def _on_pipelines(self, channel: str, names: list[str]) -> None:
        for name in names:
            key = (channel, name)
            if key not in self.slots and not self._stopping.is_set():
                self.slots[key] = PipelineSlot(self, channel, name)
        for key in [k for k in self.slots if k[0] == channel and k[1] not in names]:
            self.slots.pop(key).stop()  # undeployed

    # -- lifecycle ------------------------------------------------------------------------------------
    def start(self) -> Node:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.zk.add_listener(self._on_state)
        self.zk.start(timeout=max(15.0, self.session_timeout))
        try:
            check_access(self.zk, self.layout.root)
        except ConfigError:
            self.zk.stop()
            self.zk.close()
            raise
        register(self.zk, self.layout, self._info(), wait_seconds=self.session_timeout * 2)
        self._session_ok.set()
        self._reconnected.set()
        threading.Thread(target=self._keeper, name="zk-keeper", daemon=True).start()
        threading.Thread(
            target=run_publisher, args=(self, self._stopping), name="zk-status", daemon=True
        ).start()
        self.zk.ensure_path(self.layout.channels)
        self.zk.ChildrenWatch(self.layout.nodes, self._on_nodes)
        self.zk.ChildrenWatch(self.layout.channels, self._on_channels)
        log.info("node %s registered at %s%s", self.node_id, self.zk_hosts, self.layout.node(self.node_id))
        return self

    def status(self) -> list[dict]:
        rows = []
        for (channel, name), slot in sorted(self.slots.items()):
            for stage, worker in sorted(slot.workers.items()):
                runner = worker.runner
                row = {"channel": channel, "pipeline": name, "stage": stage, "running": worker.running}
                if runner is not None:
                    row.update(runner.stats.summary(runner.is_idle()))
                rows.append(row)
        return rows

    def stop(self) -> None:
        self._stopping.set()
        for slot in list(self.slots.values()):
            slot.stop()
        for slot in list(self.slots.values()):
            slot.join(60)
        try:
            self.zk.stop()
            self.zk.close()
        except KazooException:
            log.debug("closing the ZooKeeper client failed", exc_info=True)

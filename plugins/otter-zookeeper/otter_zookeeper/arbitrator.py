"""The ZooKeeper arbitrator: processIds, the distributed permit and acked positions in ZooKeeper.

It follows ``otter_core.contracts.Arbitrator``; ``signals.StageSignals`` adds what split stages need.
Acked positions are written with the znode version read when the stage took over: if anyone else wrote
the position since (a second holder, which the mainstem election should make impossible), the write
fails and the stage stops with ``OwnershipLost`` instead of moving the position backwards.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

from kazoo.client import KazooClient
from kazoo.exceptions import BadVersionError, NodeExistsError, NoNodeError, RolledBackError

from otter_core.spi import OtterError, Position
from otter_zookeeper.layout import Layout, decode, encode

log = logging.getLogger("otter.zookeeper")
ID_BLOCK = 1000  # processIds reserved per Counter update: one ZooKeeper write per thousand batches


class OwnershipLost(OtterError):
    """Another node wrote this pipeline's position: this node no longer owns the stage. Not retried here:
    the node gives the stage up and contends again."""

    retryable = False


class ZooKeeperArbitrator:
    """Arbitrator of one pipeline, built by the node that won the pipeline's election."""

    def __init__(
        self, zk: KazooClient, layout: Layout, channel: str, pipeline: str, node_id: int = 0
    ) -> None:
        self.zk = zk
        self.layout = layout
        self.channel = channel
        self.pipeline = pipeline
        self.node_id = node_id
        self.name = f"{channel}/{pipeline}"
        self.position_path = layout.pipeline(channel, pipeline, "position")
        # the pinned start (engine/start.py) in a znode of its own, written once: the position znode is
        # versioned by the stage that acks, and a pin written there would fence that stage off
        self.start_path = layout.pipeline(channel, pipeline, "start")
        self.permit_path = layout.pipeline(channel, pipeline, "permit")
        for path in (self.position_path, self.permit_path, layout.channel_state(channel)):
            zk.ensure_path(path)
        self._counter = zk.Counter(layout.pipeline(channel, pipeline, "process_id"))
        self._ids_lock = threading.Lock()
        self._next_id = 0
        self._id_limit = 0
        data, stat = zk.get(self.position_path)
        saved = decode(data)
        self._acked: Position | None = Position.from_dict(saved["position"]) if saved else None
        self._version = stat.version
        self._pinned: Position | None = None
        self._origin: dict[str, Any] | None = None
        self._read_start()
        self._unsaved: tuple[int, Position] | None = None
        self._saving = threading.Condition()
        self._write_lock = threading.RLock()
        self._write_error: BaseException | None = None
        self._writer: threading.Thread | None = None
        self._pipeline_permit = True
        self._channel_open = True
        self.reason = ""
        # one more for every stage that takes the pipeline over: the loader's fencing token on the target
        tokens = zk.Counter(layout.pipeline(channel, pipeline, "fencing_token"))
        tokens += 1
        self.fencing_token: int = tokens.post_value
        zk.DataWatch(self.permit_path, self._on_permit)
        zk.DataWatch(layout.channel_state(channel), self._on_channel_state)

    # -- permit ---------------------------------------------------------------------------------------
    def _on_permit(self, data: bytes | None, _stat: object) -> None:
        value = decode(data, {"allowed": True})
        self._pipeline_permit = bool(value.get("allowed", True))
        self.reason = value.get("reason", "")

    def _on_channel_state(self, data: bytes | None, _stat: object) -> None:
        state = (data or b"START").decode().strip().upper()
        self._channel_open = state == "START"

    def permit(self) -> bool:
        return self._pipeline_permit and self._channel_open

    def set_permit(self, allowed: bool, reason: str = "") -> None:
        """Close or open the pipeline's permit for every node at once."""
        self.zk.set(self.permit_path, encode({"allowed": allowed, "reason": reason}))
        self._pipeline_permit = allowed
        self.reason = reason

    # -- processIds -----------------------------------------------------------------------------------
    def next_process_id(self) -> int:
        with self._ids_lock:
            if self._next_id >= self._id_limit:
                self._counter += ID_BLOCK
                self._id_limit = self._counter.post_value + 1
                self._next_id = self._id_limit - ID_BLOCK
            value = self._next_id
            self._next_id += 1
            return value

    # -- positions ------------------------------------------------------------------------------------
    def acked_position(self) -> Position | None:
        """The acked position, else the pinned start (None: nothing saved yet)."""
        return self._acked or self._pinned

    def pin_start(self, position: Position, origin: Mapping[str, Any]) -> None:
        """Save the resolved ``start:`` once for every node; when another node pinned first, its pin
        stands and this holder starts from it too."""
        payload = encode({"position": position.to_dict(), "start": dict(origin), "node": self.node_id})
        try:
            self.zk.create(self.start_path, payload, makepath=True)
        except NodeExistsError:
            pass
        self._read_start()
        if self._pinned is None:  # an empty start znode (made by hand): ours now
            self.zk.set(self.start_path, payload)
            self._read_start()

    def saved_start(self) -> Mapping[str, Any] | None:
        return self._origin

    def _read_start(self) -> None:
        try:
            data, _stat = self.zk.get(self.start_path)
        except NoNodeError:
            self._pinned, self._origin = None, None
            return
        saved = decode(data)
        self._pinned = Position.from_dict(saved["position"]) if saved else None
        self._origin = saved.get("start") if saved else None

    def ack(self, process_id: int, position: Position) -> None:
        if self._write_error is not None:
            raise self._write_error
        self._acked = position
        with self._saving:
            self._unsaved = (process_id, position)
            if self._writer is None:
                self._writer = threading.Thread(
                    target=self._write_acks, name=f"zk-ack-{self.pipeline}", daemon=True
                )
                self._writer.start()
            self._saving.notify_all()

    def _write_acks(self) -> None:
        while self._write_error is None:
            with self._saving:
                self._saving.wait_for(lambda: self._unsaved is not None)
            try:
                self.flush()
            except Exception:  # kept in _write_error; the next ack() raises it on the Load thread
                return

    def flush(self) -> None:
        """Write the newest acked position to ZooKeeper before returning."""
        # the write lock first: a write the writer thread has already taken finishes before we look
        with self._write_lock:
            with self._saving:
                unsaved, self._unsaved = self._unsaved, None
            if unsaved is not None:
                self.write_position(*unsaved)
        if self._write_error is not None:
            raise self._write_error

    def write_position(self, process_id: int, position: Position, transaction_extra=None) -> bool:
        """Versioned write of the acked position (``transaction_extra(tx)`` adds operations to it). False:
        an extra operation's znode was gone, so the position was written without the extra operations."""
        payload = encode({"position": position.to_dict(), "process_id": process_id, "node": self.node_id})
        with self._write_lock:
            try:
                if transaction_extra is None:
                    stat = self.zk.set(self.position_path, payload, version=self._version)
                    self._version = stat.version
                else:
                    tx = self.zk.transaction()
                    tx.set_data(self.position_path, payload, version=self._version)
                    transaction_extra(tx)
                    results = tx.commit()
                    failed = [
                        (i, r)
                        for i, r in enumerate(results)
                        if isinstance(r, Exception) and not isinstance(r, RolledBackError)
                    ]
                    if failed and failed[0][0] > 0 and isinstance(failed[0][1], NoNodeError):
                        # the extra operation's znode is gone (a signal voided by a rollback): the
                        # position is still right, write it alone
                        stat = self.zk.set(self.position_path, payload, version=self._version)
                        self._version = stat.version
                        return False
                    elif failed:
                        raise failed[0][1]
                    else:
                        self._version = results[0].version
            except (BadVersionError, NoNodeError) as exc:
                self._write_error = OwnershipLost(
                    f"pipeline {self.name}: the acked position in ZooKeeper was changed by another node "
                    f"({exc!r}); this node stops the stage and contends again"
                )
                raise self._write_error from None
            except Exception as exc:
                self._write_error = OtterError(
                    f"pipeline {self.name}: cannot write the acked position to ZooKeeper: {exc!r}",
                    retryable=False,
                )
                raise self._write_error from None
        return True

    def reload_position(self) -> Position | None:
        """Read the acked position again (split stages: the T/L stage writes it, S/E restarts from it)."""
        data, stat = self.zk.get(self.position_path)
        saved = decode(data)
        self._acked = Position.from_dict(saved["position"]) if saved else None
        self._version = stat.version
        self._read_start()
        return self.acked_position()

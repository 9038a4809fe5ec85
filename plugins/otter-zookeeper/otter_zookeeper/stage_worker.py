"""One stage of one pipeline on one node: contend in the stage's election, run it while elected.

The election is kazoo's ``Election`` (a ``Lock`` recipe): exactly one node holds a stage, the other
candidates queue behind it as hot standbys. A standby that wins while the preferred node (the first of
the placement's list) is absent waits ``grace_seconds`` for it to come back before it takes the stage
over, and steps back if it does. Every start and stop is recorded under ``history/`` with the time.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from kazoo.exceptions import KazooException

from otter_zookeeper.layout import encode

if TYPE_CHECKING:
    from otter_zookeeper.node import PipelineSlot

log = logging.getLogger("otter.node")
HISTORY_KEEP = 500
PREFERRED_STARTING_SECONDS = 10.0  # extra wait for a registered preferred node to join the election


class StageWorker:
    """Thread that keeps contending for ``stage`` of a pipeline while this node is one of its candidates."""

    def __init__(self, slot: PipelineSlot, stage: str) -> None:
        self.slot = slot
        self.node = slot.node
        self.stage = stage
        self.name = f"{slot.channel}/{slot.pipeline}:{stage}"
        self.runner: Any = None
        self.running = False
        self._stop = threading.Event()
        self._election: Any = None
        self._thread = threading.Thread(target=self._loop, name=f"stage-{self.name}", daemon=True)

    def start(self) -> StageWorker:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Give the stage up (stop the runner at once; leave the election)."""
        self._stop.set()
        self.interrupt()
        election = self._election
        if election is not None:
            election.cancel()

    def interrupt(self) -> None:
        """Stop the running stage now (session suspended or lost): Select stops within a poll interval."""
        runner = self.runner
        if runner is not None:
            runner.stop()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    # -- the loop -------------------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                placement = self.slot.placement
                if (
                    placement is None
                    or self.node.node_id not in placement.candidates(self.stage)
                    or not self.node.session_ok()
                    or not self.slot.wants(self.stage)
                ):
                    self._stop.wait(0.5)
                    continue
                self._election = self.node.zk.Election(
                    self.slot.election_path(self.stage), str(self.node.node_id)
                )
                self._election.run(self._lead)
            except KazooException as exc:
                log.warning("[%s] ZooKeeper error, contending again: %r", self.name, exc)
            except Exception:
                log.exception("[%s] stage worker error, contending again", self.name)
            finally:
                self._election = None
            self._stop.wait(0.5)

    def _lead(self) -> None:
        """Called by kazoo while this node holds the stage's election lock."""
        if not self._grace_passed():
            self._stop.wait(1.0)  # let the preferred node queue up before we contend again
            return
        if self._stop.is_set() or not self.node.session_ok():
            return
        log.info("[%s] node %s takes the stage", self.name, self.node.node_id)
        runner = self.slot.make_runner(self.stage)
        thread = threading.Thread(target=runner.run, name=f"run-{self.name}", daemon=True)
        self.record("start")
        self.runner = runner
        self.running = True
        thread.start()
        try:
            while thread.is_alive():
                if (
                    self._stop.is_set()
                    or not self.node.session_ok()
                    or not self._still_placed()
                    or not self.slot.wants(self.stage)
                ):
                    runner.stop()
                thread.join(0.2)
        finally:
            self.running = False
            self.runner = None
            close = getattr(runner.arbitrator, "close", None)
            if close is not None:
                close()
            if self.node.session_ok():
                self.record("stop", error=str(runner.failure or ""))
            else:
                self.node.record_later(self.slot, self.stage, "stop")
        if runner.failure is not None:
            log.error("[%s] stage failed on node %s: %s", self.name, self.node.node_id, runner.failure)
            self._stop.wait(min(5.0, 1.0 + self.slot.placement_grace()))

    def _still_placed(self) -> bool:
        placement = self.slot.placement
        return placement is not None and self.node.node_id in placement.candidates(self.stage)

    def _grace_passed(self) -> bool:
        """A standby takes over only after the preferred node stayed away for the grace period."""
        placement = self.slot.placement
        if placement is None:
            return False
        preferred = placement.candidates(self.stage)[0]
        if preferred == self.node.node_id:
            return True
        started = time.monotonic()
        waited = False
        while not self._stop.is_set():
            alive = preferred in self.node.live_node_ids()
            if alive and self.slot.is_contending(self.stage, preferred):
                if waited:
                    log.info(
                        "[%s] preferred node %s is back: node %s steps back",
                        self.name,
                        preferred,
                        self.node.node_id,
                    )
                return False
            # a preferred node that is registered but not yet queued (still starting) gets a little longer
            limit = placement.grace_seconds + (PREFERRED_STARTING_SECONDS if alive else 0.0)
            if time.monotonic() - started >= limit:
                return True
            if not waited:
                log.info(
                    "[%s] node %s won the election; waiting %.1fs for preferred node %s",
                    self.name,
                    self.node.node_id,
                    placement.grace_seconds,
                    preferred,
                )
                waited = True
            self._stop.wait(0.2)
        return False

    def record(self, event: str, **extra: Any) -> None:
        record_history(self.node.zk, self.slot.history_path, self.node.node_id, self.stage, event, **extra)


def record_history(
    zk: Any, path: str, node_id: int, stage: str, event: str, when: float | None = None, **extra: Any
) -> None:
    """Append a stage start/stop to ``history/`` (persistent sequential znodes, the oldest pruned)."""
    entry = {"node": node_id, "stage": stage, "event": event, "time": when or time.time(), **extra}
    try:
        zk.create(f"{path}/h-", encode(entry), sequence=True, makepath=True)
        children = sorted(zk.get_children(path))
        for old in children[:-HISTORY_KEEP]:
            zk.delete(f"{path}/{old}")
    except KazooException:
        log.warning("could not record %s %s of node %s in %s", stage, event, node_id, path, exc_info=True)

"""Progress of the stages a node runs, published as ephemeral znodes for the manager and operators.

``…/<pipeline>/status/<stage>`` holds JSON ``{node, stage, state, rows, rows_per_s, lag_s, position,
error, restarts, updated}`` while the stage runs here; it vanishes with the node's session. ``state`` is
"paused" once this node's arbitrator closed its permit (not when a pause was only requested).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from kazoo.exceptions import KazooException, NodeExistsError, NoNodeError

from otter_zookeeper.layout import encode

if TYPE_CHECKING:
    from otter_zookeeper.node import Node

log = logging.getLogger("otter.node")
INTERVAL_SECONDS = 2.0


def publish_once(node: Node) -> None:
    for (channel, pipeline), slot in list(node.slots.items()):
        for stage, worker in list(slot.workers.items()):
            path = f"{node.layout.pipeline(channel, pipeline, 'status')}/{stage}"
            runner = worker.runner
            if runner is None or not worker.running:
                _delete_own(node, path)
                continue
            row = runner.stats.summary(runner.is_idle())
            if row.get("state") == "running" and not runner.arbitrator.permit():
                row["state"] = (
                    "paused"  # this node's permit is closed (channel paused, or the pipeline's permit)
                )
            row.update({"node": node.node_id, "stage": stage, "updated": time.time()})
            data = encode(row)
            try:
                node.zk.set(path, data)
            except NoNodeError:
                try:
                    node.zk.create(path, data, ephemeral=True, makepath=True)
                except NodeExistsError:  # the previous holder's node has not expired yet
                    pass


def _delete_own(node: Node, path: str) -> None:
    try:
        stat = node.zk.exists(path)
        if stat is not None and stat.ephemeralOwner == node.zk.client_id[0]:
            node.zk.delete(path)
    except KazooException:
        pass


def run_publisher(node: Node, stopping: threading.Event) -> None:
    """Publish every ``INTERVAL_SECONDS`` until ``stopping`` is set (a node thread)."""
    while not stopping.wait(INTERVAL_SECONDS):
        if not node.session_ok():
            continue
        try:
            publish_once(node)
        except KazooException as exc:
            log.debug("status not published: %r", exc)

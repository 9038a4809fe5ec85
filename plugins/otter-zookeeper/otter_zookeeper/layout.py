"""Every znode otter uses, in one place (documented in docs/distributed.md; the manager writes the same ones).

::

    ROOT/nodes/<id>                                   ephemeral: a live node (JSON NodeInfo)
    ROOT/channels/<ch>/config                         the deployed YAML text (the whole file)
    ROOT/channels/<ch>/state                          START | PAUSE | STOP
    ROOT/channels/<ch>/pipelines/<p>/placement        JSON Placement: select/load node lists, arbitrate mode
    ROOT/channels/<ch>/pipelines/<p>/position         JSON {"position": {...}, "process_id": N}: last ack
    ROOT/channels/<ch>/pipelines/<p>/permit           JSON {"allowed": bool, "reason": str}
    ROOT/channels/<ch>/pipelines/<p>/process_id       kazoo Counter: processIds, strictly increasing
    ROOT/channels/<ch>/pipelines/<p>/epoch            JSON {"epoch": N, "reason": str}: rollback generation
    ROOT/channels/<ch>/pipelines/<p>/mainstem/        kazoo Election: the node that runs Select(+Extract)
    ROOT/channels/<ch>/pipelines/<p>/loadstem/        kazoo Election: the node that runs Transform+Load (split)
    ROOT/channels/<ch>/pipelines/<p>/ready/<pid>      JSON {key, position, size, epoch, node}: S/E -> T/L
    ROOT/channels/<ch>/pipelines/<p>/signal_target    ephemeral JSON {node, address}: T/L's inbox (mode rpc)
    ROOT/channels/<ch>/pipelines/<p>/history/h-<seq>  JSON {node, stage, event, time}: stage starts/stops
    ROOT/channels/<ch>/pipelines/<p>/status/<stage>   ephemeral JSON: who runs the stage, its progress
"""

from __future__ import annotations

import json
import re
from typing import Any

DEFAULT_ROOT = "/otter"
STAGE_SELECT = "select"  # Select + Extract (and Transform + Load too when the pipeline is not split)
STAGE_LOAD = "load"  # Transform + Load of a split pipeline
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def check_name(kind: str, name: str) -> str:
    """Channel and pipeline names become znode names: refuse anything that is not a plain word."""
    from otter_core.spi import ConfigError

    if not _NAME.match(name):
        raise ConfigError(
            f"{kind} name {name!r} cannot be used in ZooKeeper: use letters, digits, '_', '-', '.'"
        )
    return name


class Layout:
    """Paths under one root (``--zk-root``, default ``/otter``)."""

    def __init__(self, root: str = DEFAULT_ROOT) -> None:
        self.root = "/" + root.strip("/")

    @property
    def nodes(self) -> str:
        return f"{self.root}/nodes"

    def node(self, node_id: int) -> str:
        return f"{self.nodes}/{int(node_id)}"

    @property
    def channels(self) -> str:
        return f"{self.root}/channels"

    def channel(self, channel: str) -> str:
        return f"{self.channels}/{check_name('channel', channel)}"

    def channel_config(self, channel: str) -> str:
        return f"{self.channel(channel)}/config"

    def channel_state(self, channel: str) -> str:
        return f"{self.channel(channel)}/state"

    def pipelines(self, channel: str) -> str:
        return f"{self.channel(channel)}/pipelines"

    def pipeline(self, channel: str, pipeline: str, leaf: str = "") -> str:
        base = f"{self.pipelines(channel)}/{check_name('pipeline', pipeline)}"
        return f"{base}/{leaf}" if leaf else base

    def election(self, channel: str, pipeline: str, stage: str) -> str:
        return self.pipeline(channel, pipeline, "mainstem" if stage == STAGE_SELECT else "loadstem")

    def ready(self, channel: str, pipeline: str, process_id: int | None = None) -> str:
        base = self.pipeline(channel, pipeline, "ready")
        return base if process_id is None else f"{base}/{process_id:012d}"


def encode(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True).encode()


def decode(data: bytes | None, default: Any = None) -> Any:
    if not data:
        return default
    return json.loads(data.decode())

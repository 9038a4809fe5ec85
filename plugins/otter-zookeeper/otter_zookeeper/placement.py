"""Where a pipeline's stages run: node lists in order of preference, and how the stages signal each other."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from attrs import field, frozen

from otter_core.spi import ConfigError

ARBITRATE_MODES = ("automatic", "memory", "zookeeper", "rpc")
DEFAULT_GRACE_SECONDS = 30.0


def _node_ids(value: Any) -> tuple[int, ...]:
    if isinstance(value, (int, str)):
        value = [value]
    return tuple(int(v) for v in value)


@frozen
class Placement:
    """``select``: nodes that may run Select+Extract, the first one preferred, the others hot standbys;
    ``load``: the same for Transform+Load. ``arbitrate``: ``memory`` runs every stage in one process (the
    ``select`` nodes take the whole pipeline), ``zookeeper`` splits S/E and T/L with processId signals in
    ZooKeeper (``ready/<processId>`` znodes), ``rpc`` splits them too but S/E pushes each "batch ready"
    signal straight to the T/L node over the nodes' authenticated gRPC channel (``rpc_signals.py``; needs
    otter-grpc) while ZooKeeper keeps the permit, elections, epoch and acked positions; the batch itself
    always travels through the pipe. ``automatic`` is ``memory`` when both lists are the same and
    ``zookeeper`` otherwise. ``grace_seconds``: how long a standby waits for the preferred node to come
    back before it takes the stage over."""

    select: tuple[int, ...] = field(converter=_node_ids)
    load: tuple[int, ...] = field(converter=_node_ids)
    arbitrate: str = "automatic"
    grace_seconds: float = DEFAULT_GRACE_SECONDS

    def __attrs_post_init__(self) -> None:
        if not self.select or not self.load:
            raise ConfigError("a placement needs at least one select node and one load node")
        if self.arbitrate not in ARBITRATE_MODES:
            raise ConfigError(
                f"unknown arbitrate mode {self.arbitrate!r}: use one of {', '.join(ARBITRATE_MODES)}"
            )
        if self.arbitrate == "memory" and self.select != self.load:
            raise ConfigError(
                f"arbitrate mode memory runs every stage on one node, but select nodes "
                f"{list(self.select)} differ from load nodes {list(self.load)}: give the same "
                f"lists or use arbitrate mode zookeeper (or automatic)"
            )
        if self.grace_seconds < 0:
            raise ConfigError("grace_seconds must be 0 or more")

    @property
    def split(self) -> bool:
        """True when Select/Extract and Transform/Load run as separate stages (possibly on two nodes)."""
        if self.arbitrate == "automatic":
            return self.select != self.load
        return self.arbitrate in ("zookeeper", "rpc")

    def candidates(self, stage: str) -> tuple[int, ...]:
        from otter_zookeeper.layout import STAGE_SELECT

        return self.select if stage == STAGE_SELECT else self.load

    def to_dict(self) -> dict[str, Any]:
        return {
            "select": list(self.select),
            "load": list(self.load),
            "arbitrate": self.arbitrate,
            "grace_seconds": self.grace_seconds,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Placement:
        return cls(
            data["select"],
            data["load"],
            data.get("arbitrate", "automatic"),
            float(data.get("grace_seconds", DEFAULT_GRACE_SECONDS)),
        )

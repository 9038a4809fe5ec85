"""Values of distributed mode: a node's context (for pipes) and the signal between split stages."""
from __future__ import annotations

from typing import Callable

from attrs import field, frozen

from otter_core.model.events import Position


def _no_address(_node_id: int) -> str | None:
    return None


@frozen
class NodeContext:
    """What a pipe needs to know about the node it runs in (``otter-run node``).

    ``bind_host``/``pipe_port``: where this node's pipe server listens (port 0: a free one);
    ``advertised_host``: the address other nodes dial (differs from ``bind_host`` behind NAT or in a network
    namespace); ``auth_token``: the shared secret of node-to-node traffic (never shown); ``tls_*``: PEM file
    paths (server certificate, its key, the CA that signs peers); ``address_of(node_id)``: the
    ``host:port`` another live node advertised, or None.
    """

    node_id: int
    bind_host: str = "127.0.0.1"
    advertised_host: str = "127.0.0.1"
    pipe_port: int = 0
    auth_token: str = field(default="", repr=False)
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_ca: str | None = None
    zk_hosts: str = ""
    address_of: Callable[[int], str | None] = field(default=_no_address, eq=False, repr=False)


@frozen
class ReadySignal:
    """Select/Extract tells Transform/Load that batch ``process_id`` waits in the pipe under ``key``.

    ``epoch`` is the generation of the S/E run that produced it: a rollback starts a new epoch and
    every signal of an older one is void. ``position`` is acked once the batch is loaded."""

    process_id: int
    key: str
    position: Position
    size: int = 0
    epoch: int = 0
    node_id: int = 0

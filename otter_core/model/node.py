"""Values of distributed mode: a node's context (for pipes) and the signal between split stages.

Field names agreed with the ZooKeeper node (``otter-run node``, plugins/otter-zookeeper)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable

from attrs import field, frozen

from otter_core.model.events import Position


def _no_address(_node_id: int | str) -> str | None:
    return None


def host_port(host: str, port: int) -> str:
    """``host:port``, with an IPv6 host in brackets."""
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


@frozen
class NodeContext:
    """One node's network identity and secrets, handed to pipe factories (``otter_pipe``).

    ``bind_host``/``pipe_port``: where the node's pipe server listens (port 0: any free port);
    ``advertised_host``: the address other nodes dial (it differs from ``bind_host`` behind NAT, in a network
    namespace, or when binding ``0.0.0.0``); keys carry ``advertised_host`` and the bound port. Node-to-node
    traffic is authenticated by ``auth_token`` (a shared secret sent in call metadata, never shown) and/or
    mutual TLS: ``tls_cert``/``tls_key`` are this node's PEM certificate and key, ``tls_ca`` the PEM bundle
    that signs its peers'; with all three on every node, a peer without a certificate signed by ``tls_ca``
    is refused. ``spool_dir`` holds big batches and partial downloads; ``address_of(node_id)`` gives the
    ``host:port`` another live node advertised (None when unknown).
    """

    node_id: int | str
    bind_host: str = "127.0.0.1"
    advertised_host: str = "127.0.0.1"
    pipe_port: int = 0
    auth_token: str = field(default="", repr=False)
    tls_cert: str | None = None
    tls_key: str | None = field(default=None, repr=False)
    tls_ca: str | None = None
    zk_hosts: str = ""
    address_of: Callable[[int | str], str | None] = field(default=_no_address, eq=False, repr=False)
    spool_dir: str = field(factory=lambda: os.path.join(tempfile.gettempdir(), "otter-spool"))

    @property
    def listen(self) -> str:
        return host_port(self.bind_host, self.pipe_port)

    @property
    def tls(self) -> bool:
        return bool(self.tls_cert and self.tls_key)

    @property
    def mutual_tls(self) -> bool:
        return self.tls and bool(self.tls_ca)


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

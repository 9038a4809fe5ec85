"""Authentication between nodes: a shared token in call metadata, checked by a server interceptor, and
TLS (server certificate; with a CA on both sides, client certificates too: mutual TLS).

A node refuses to serve without either a token or mutual TLS: node-to-node traffic is never anonymous.
The token is compared in constant time and never logged.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from typing import Any

import grpc

from otter_core.spi import ConfigError, NodeContext

log = logging.getLogger("otter.grpc")
METADATA_KEY = "authorization"


def _read(path: str, what: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise ConfigError(
            f"cannot read the {what} {path!r}: {exc.strerror}: check the node's TLS settings"
        ) from None


def check_node(node: NodeContext) -> None:
    """Refuse settings that would serve unauthenticated or half-configured TLS."""
    if bool(node.tls_cert) != bool(node.tls_key):
        raise ConfigError(f"node {node.node_id!r}: set both tls_cert and tls_key (or neither)")
    if node.tls_ca and not node.tls:
        raise ConfigError(
            f"node {node.node_id!r}: tls_ca is set without tls_cert/tls_key: mutual TLS needs this "
            f"node's own certificate and key too"
        )
    if not node.auth_token and not node.mutual_tls:
        raise ConfigError(
            f"node {node.node_id!r}: node-to-node traffic must be authenticated: set a shared token "
            f"(auth_token, the same on every node) or mutual TLS (tls_cert, tls_key and tls_ca on every "
            f"node)"
        )


def _key_and_certificate(node: NodeContext) -> tuple[bytes, bytes]:
    """The PEM key and certificate of a node with TLS."""
    if not node.tls_key or not node.tls_cert:
        raise ConfigError(f"node {node.node_id!r}: set both tls_cert and tls_key (or neither)")
    return _read(node.tls_key, "TLS key"), _read(node.tls_cert, "TLS certificate")


def server_credentials(node: NodeContext) -> grpc.ServerCredentials | None:
    if not node.tls:
        return None
    pair = [_key_and_certificate(node)]
    if node.tls_ca:
        return grpc.ssl_server_credentials(
            pair, root_certificates=_read(node.tls_ca, "TLS CA bundle"), require_client_auth=True
        )
    return grpc.ssl_server_credentials(pair)


def channel_credentials(node: NodeContext) -> grpc.ChannelCredentials | None:
    """TLS credentials to dial a peer (None: plain TCP). A node with a CA trusts peers signed by it; with
    its own certificate it presents it (mutual TLS)."""
    if not node.tls and not node.tls_ca:
        return None
    ca = _read(node.tls_ca, "TLS CA bundle") if node.tls_ca else None
    if node.tls:
        key, certificate = _key_and_certificate(node)
        return grpc.ssl_channel_credentials(
            root_certificates=ca, private_key=key, certificate_chain=certificate
        )
    return grpc.ssl_channel_credentials(root_certificates=ca)


def call_metadata(node: NodeContext) -> tuple[tuple[str, str], ...]:
    return ((METADATA_KEY, f"Bearer {node.auth_token}"),) if node.auth_token else ()


class TokenInterceptor(grpc.ServerInterceptor):
    """Rejects every call whose ``authorization`` metadata is not ``Bearer <token>`` (UNAUTHENTICATED),
    before the request is decoded or any handler runs."""

    def __init__(self, token: str) -> None:
        self._expected = f"Bearer {token}".encode()

        def deny(_request: Any, context: grpc.ServicerContext) -> None:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong node token")

        self._deny_unary: grpc.RpcMethodHandler[Any, None] = grpc.unary_unary_rpc_method_handler(deny)
        self._deny_stream: grpc.RpcMethodHandler[Any, None] = grpc.unary_stream_rpc_method_handler(deny)

    def intercept_service(self, continuation: Callable, handler_call_details: grpc.HandlerCallDetails) -> Any:
        supplied = b""
        for key, value in handler_call_details.invocation_metadata or ():
            if key == METADATA_KEY:
                supplied = value.encode() if isinstance(value, str) else value
        if hmac.compare_digest(supplied, self._expected):
            return continuation(handler_call_details)
        log.warning("refused a call to %s: missing or wrong node token", handler_call_details.method)
        if handler_call_details.method.endswith("/Read"):
            return self._deny_stream
        return self._deny_unary

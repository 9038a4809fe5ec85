"""Node-to-node traffic is authenticated (token, or mutual TLS) and may be encrypted (TLS)."""

import attrs
import pytest
from grpc_support import items, make_pipeline, receiver_of

from otter_core.spi import ConfigError, NodeContext, PipeError
from otter_grpc.pipe import GrpcPipe


def exchange(sender_node: NodeContext, receiver_node: NodeContext) -> list:
    pipeline = make_pipeline(pipe_threshold_bytes=2000)
    sender, receiver = GrpcPipe(pipeline, sender_node, "rpc"), GrpcPipe(pipeline, receiver_node, "rpc")
    try:
        return [receiver.get(sender.put(items(3))), receiver.get(sender.put(items(300)))]
    finally:
        sender.close()
        receiver.close()


def test_a_wrong_token_is_refused_and_not_retried(node, tmp_path, caplog):
    with pytest.raises(PipeError, match="same token") as info:
        exchange(node, receiver_of(node, tmp_path, auth_token="not-the-token"))
    assert info.value.retryable is False
    assert node.auth_token not in caplog.text and "not-the-token" not in caplog.text


def test_a_missing_token_is_refused(node, tmp_path):
    with pytest.raises(PipeError, match="refused"):
        exchange(node, receiver_of(node, tmp_path, auth_token=""))


def test_a_node_without_token_or_mutual_tls_does_not_serve(node, tmp_path):
    with pytest.raises(ConfigError, match="must be authenticated"):
        exchange(attrs.evolve(node, auth_token=""), receiver_of(node, tmp_path))


def test_half_configured_tls_is_refused(node, certs):
    with pytest.raises(ConfigError, match="both tls_cert and tls_key"):
        exchange(attrs.evolve(node, tls_cert=str(certs["cert"])), node)


def test_tls_with_token_carries_batches(node, certs, tmp_path):
    sender = attrs.evolve(
        node,
        bind_host="localhost",
        advertised_host="localhost",
        tls_cert=str(certs["cert"]),
        tls_key=str(certs["key"]),
    )
    receiver = receiver_of(node, tmp_path, tls_ca=str(certs["ca"]))
    assert exchange(sender, receiver) == [items(3), items(300)]


def test_a_plain_client_cannot_talk_to_a_tls_node(node, certs, tmp_path):
    sender = attrs.evolve(node, tls_cert=str(certs["cert"]), tls_key=str(certs["key"]))
    import otter_grpc.client as client

    original, client.CALL_TIMEOUT_SECONDS = client.CALL_TIMEOUT_SECONDS, 3.0
    try:
        with pytest.raises(PipeError):
            exchange(sender, receiver_of(node, tmp_path))
    finally:
        client.CALL_TIMEOUT_SECONDS = original


def mtls(node: NodeContext, certs, prefix: str = "") -> NodeContext:
    return attrs.evolve(
        node,
        auth_token="",
        tls_ca=str(certs["ca"]),
        tls_cert=str(certs[f"{prefix}cert"]),
        tls_key=str(certs[f"{prefix}key"]),
    )


def test_mutual_tls_alone_authenticates_nodes(node, certs, tmp_path):
    sender = mtls(node, certs)
    assert exchange(sender, receiver_of(sender, tmp_path)) == [items(3), items(300)]


def test_mutual_tls_refuses_a_certificate_from_another_ca(node, certs, tmp_path):
    sender = mtls(node, certs)
    stranger = receiver_of(
        sender, tmp_path, tls_cert=str(certs["stranger_cert"]), tls_key=str(certs["stranger_key"])
    )
    import otter_grpc.client as client

    original, client.CALL_TIMEOUT_SECONDS = client.CALL_TIMEOUT_SECONDS, 3.0
    try:
        with pytest.raises(PipeError):
            exchange(sender, stranger)
    finally:
        client.CALL_TIMEOUT_SECONDS = original

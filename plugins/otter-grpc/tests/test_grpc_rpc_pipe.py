"""The rpc and file pipes over real gRPC on loopback: keys, thresholds, lifecycle, errors."""

import os

import pytest
from grpc_support import items, make_pipeline, receiver_of

from otter_core.spi import PipeError, PipelinePlugins
from otter_grpc import store as store_module
from otter_grpc.keys import parse_key
from otter_grpc.pipe import GrpcPipe


@pytest.fixture
def pipes(node, tmp_path):
    """A sending pipe and a receiving pipe on two node contexts sharing the token."""
    made = []

    def make(pipe="rpc", receiver_changes=None, **parameters):
        pipeline = make_pipeline(pipe, **parameters)
        sender = GrpcPipe(pipeline, node, pipe)
        receiver = GrpcPipe(pipeline, receiver_of(node, tmp_path, **(receiver_changes or {})), pipe)
        made.extend([sender, receiver])
        return sender, receiver

    yield make
    for pipe in made:
        pipe.close()


def test_pipes_are_found_by_name_through_the_plugin_facade(node):
    for name in ("rpc", "file"):
        pipe = PipelinePlugins(make_pipeline(name)).pipe(node)
        assert isinstance(pipe, GrpcPipe) and pipe.kind == name
        pipe.close()


def test_small_batch_is_pulled_whole_by_key(pipes):
    sender, receiver = pipes()
    batch = items(10)
    key = sender.put(batch)
    parsed = parse_key(key)
    assert (
        parsed.kind == "rpc"
        and parsed.address.startswith("127.0.0.1:")
        and parsed.pipe_id.startswith("ch.p1.")
    )
    assert receiver.get(key) == batch


def test_batch_above_the_threshold_travels_through_the_file_pipe(pipes):
    sender, receiver = pipes(pipe_threshold_bytes=4096, pipe_streams=3)
    small, big = items(3), items(3000, 200)
    small_key, big_key = sender.put(small), sender.put(big)
    assert parse_key(small_key).kind == "rpc"
    parsed = parse_key(big_key)
    assert parsed.kind == "file" and parsed.size > 500_000 and len(parsed.sha256) == 64
    assert receiver.get(big_key) == big and receiver.get(small_key) == small
    assert os.listdir(sender._store.spool) == [] or _eventually_empty(sender._store.spool)


def _eventually_empty(folder: str) -> bool:
    import time

    deadline = time.monotonic() + 10
    while os.listdir(folder) and time.monotonic() < deadline:
        time.sleep(0.05)  # the release reaches the sender in the background
    return os.listdir(folder) == []


def test_the_file_pipe_carries_every_batch_in_chunks(pipes):
    sender, receiver = pipes("file")
    key = sender.put(items(2))
    assert parse_key(key).kind == "file"
    assert receiver.get(key) == items(2)


def test_a_batch_is_given_once_then_the_key_is_unknown(pipes):
    sender, receiver = pipes()
    key = sender.put(items(1))
    receiver.get(key)
    with pytest.raises(PipeError, match="not held") as info:
        receiver.get(key)
    assert info.value.retryable


def test_close_drops_unclaimed_batches_and_spool_files(pipes):
    sender, receiver = pipes(pipe_threshold_bytes=1000)
    small, big = sender.put(items(2)), sender.put(items(500))
    spool = sender._store.spool
    assert os.listdir(spool)
    sender.close()
    assert not os.path.exists(spool)
    for key in (small, big):
        with pytest.raises(PipeError):
            receiver.get(key)


def test_unclaimed_batches_expire_after_the_ttl(pipes, monkeypatch, caplog):
    sender, receiver = pipes()
    first = sender.put(items(1))
    store = sender._store
    store.ttl = 0.0
    store._swept = 0.0
    second = sender.put(items(2))  # a put sweeps what is older than the TTL
    with pytest.raises(PipeError, match="not held"):
        receiver.get(first)
    assert "was not claimed" in caplog.text
    assert store_module.DEFAULT_TTL_SECONDS == 3600.0
    store.ttl = 3600.0
    assert receiver.get(second) == items(2)


def test_an_unreachable_sender_is_a_retryable_error_naming_it(node, tmp_path):
    receiver = GrpcPipe(make_pipeline(), receiver_of(node, tmp_path), "rpc")
    import otter_grpc.client as client

    original = client.CALL_TIMEOUT_SECONDS
    client.CALL_TIMEOUT_SECONDS = 1.0
    try:
        with pytest.raises(PipeError, match="127.0.0.1:9") as info:
            receiver.get("rpc:127.0.0.1:9/ch.p1.dead/1")
    finally:
        client.CALL_TIMEOUT_SECONDS = original
        receiver.close()
    assert info.value.retryable


def test_a_malformed_key_is_refused():
    with pytest.raises(PipeError, match="not a batch key") as info:
        parse_key("mem-1")
    assert not info.value.retryable


def test_restarted_sender_keys_never_collide(node):
    pipeline = make_pipeline()
    first, second = GrpcPipe(pipeline, node, "rpc"), GrpcPipe(pipeline, node, "rpc")
    try:
        assert parse_key(first.put(items(1))).pipe_id != parse_key(second.put(items(1))).pipe_id
    finally:
        first.close()
        second.close()


def test_discard_frees_a_voided_batch_on_the_sender(pipes):
    sender, receiver = pipes(pipe_threshold_bytes=1000)
    small, big = sender.put(items(2)), sender.put(items(500))
    spool = sender._store.spool
    for key in (small, big):
        sender.discard(key)
    assert os.listdir(spool) == []
    with pytest.raises(PipeError, match="not held"):
        receiver.get(small)

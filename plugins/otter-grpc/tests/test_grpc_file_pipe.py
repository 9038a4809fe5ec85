"""Row files over gRPC: only registered files are served, chunks are verified, copies land atomically."""

import os
import time

import attrs
import pytest
from grpc_support import make_pipeline, receiver_of

from otter_core.files.stage import FileStage
from otter_core.spi import EventData, EventType, FileChanged, FileRef, PipeError
from otter_grpc.pipe import GrpcPipe


def source_ref(tmp_path, name: str, data: bytes) -> FileRef:
    path = tmp_path / "src" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    st = os.stat(path)
    return FileRef(name, str(tmp_path / "src"), str(tmp_path / "dst"), st.st_size, st.st_mtime_ns)


def batch_with(refs) -> list:
    return [
        ("dst", 5, EventData("shop", "item", EventType.INSERT, {"id": i}, {"v": i}, files=(ref,)))
        for i, ref in enumerate(refs)
    ]


@pytest.fixture
def pair_of_pipes(node, tmp_path):
    pipeline = make_pipeline(pipe_streams=3, files_root=str(tmp_path / "dst"))
    sender = GrpcPipe(pipeline, node, "rpc")
    receiver = GrpcPipe(pipeline, receiver_of(node, tmp_path), "rpc")
    yield sender, receiver
    sender.close()
    receiver.close()


def test_row_files_travel_with_their_batch_and_land_with_their_mtime(pair_of_pipes, tmp_path):
    sender, receiver = pair_of_pipes
    refs = [
        source_ref(tmp_path, "a/text.txt", b"hello otter\n" * 50_000),
        source_ref(tmp_path, "b/random.bin", os.urandom(3 * 1024 * 1024 + 5)),
        source_ref(tmp_path, "empty.bin", b""),
    ]
    key = sender.put(batch_with(refs))
    items = receiver.get(key)
    stage = FileStage(pool_size=2, streams=3)
    assert stage.load(items, receiver.files(key)) == 3
    for ref in refs:
        source, target = tmp_path / "src" / ref.path, tmp_path / "dst" / ref.path
        assert target.read_bytes() == source.read_bytes()
        assert os.stat(target).st_mtime_ns == ref.mtime_ns
    assert stage.stats.bytes == sum(r.size for r in refs)
    stage.close()


def test_only_files_registered_with_the_batch_are_served(pair_of_pipes, tmp_path):
    sender, receiver = pair_of_pipes
    registered = source_ref(tmp_path, "ok.txt", b"ok")
    secret = source_ref(tmp_path, "secret.txt", b"not for peers")
    key = sender.put(batch_with([registered]))
    receiver.get(key)
    source = receiver.files(key)
    with pytest.raises(PipeError, match="not served"):
        list(source.read(secret, 0, secret.size))
    escaping = attrs.evolve(registered, path="../../etc/hostname", source_root=str(tmp_path / "src"))
    with pytest.raises(PipeError, match="not served"):
        list(source.read(escaping, 0, 10))


def test_released_files_are_no_longer_served(pair_of_pipes, tmp_path):
    sender, receiver = pair_of_pipes
    ref = source_ref(tmp_path, "once.txt", b"once")
    key = sender.put(batch_with([ref]))
    receiver.get(key)
    source = receiver.files(key)
    assert b"".join(source.read(ref, 0, ref.size)) == b"once"
    source.release()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the release is sent in the background
        try:
            list(source.read(ref, 0, ref.size))
        except PipeError:
            return
        time.sleep(0.05)
    raise AssertionError("a released file was still served")


def test_a_file_rewritten_after_extract_is_copied_as_it_is_now(pair_of_pipes, tmp_path):
    sender, receiver = pair_of_pipes
    ref = source_ref(tmp_path, "moving.txt", b"first version")
    key = sender.put(batch_with([ref]))
    (tmp_path / "src/moving.txt").write_bytes(b"second, longer version")
    stage = FileStage(pool_size=1)
    stage.load(receiver.get(key), receiver.files(key))
    assert (tmp_path / "dst/moving.txt").read_bytes() == b"second, longer version"
    stage.close()


def test_a_file_deleted_after_extract_is_skipped_not_fatal(pair_of_pipes, tmp_path, caplog):
    sender, receiver = pair_of_pipes
    ref = source_ref(tmp_path, "gone.txt", b"soon gone")
    key = sender.put(batch_with([ref]))
    os.unlink(tmp_path / "src/gone.txt")
    stage = FileStage(pool_size=1)
    assert stage.load(receiver.get(key), receiver.files(key)) == 0
    assert stage.stats.gone == 1 and "deleted on the source" in caplog.text
    stage.close()


def test_row_files_of_a_big_batch_are_served_after_the_batch_was_fetched(node, tmp_path):
    pipeline = make_pipeline(pipe_threshold_bytes=100, files_root=str(tmp_path / "dst"))
    sender, receiver = GrpcPipe(pipeline, node, "rpc"), GrpcPipe(pipeline, receiver_of(node, tmp_path), "rpc")
    try:
        refs = [source_ref(tmp_path, f"many/{i}.txt", b"x" * i) for i in range(1, 30)]
        key = sender.put(batch_with(refs))
        assert key.startswith("file:")
        items = receiver.get(key)
        time.sleep(0.2)  # the batch's release reaches the sender in the background
        stage = FileStage(pool_size=4)
        assert stage.load(items, receiver.files(key)) == len(refs)
        stage.close()
    finally:
        sender.close()
        receiver.close()


def test_a_file_truncated_in_place_while_served_reports_its_current_size(pair_of_pipes, tmp_path):
    """The size matched when the node opened it; it shrank between two chunks: the reader learns the
    current size (and copies that file), it does not take it as deleted or as a damaged stream."""
    sender, receiver = pair_of_pipes
    # far more than gRPC's flow-control window, so the node cannot have read it all before the truncate
    ref = source_ref(tmp_path, "shrinking.bin", os.urandom(64 * 1024 * 1024))
    key = sender.put(batch_with([ref]))
    receiver.get(key)
    chunks = receiver.files(key).read(ref, 0, ref.size)
    assert len(next(chunks)) > 0
    os.truncate(tmp_path / "src/shrinking.bin", 1000)
    with pytest.raises(FileChanged) as info:
        for _ in chunks:
            pass
    # only the size: ext4 sets the new size before it frees the blocks and then the mtime, so a node that
    # reads during a big truncate may see the old mtime (the next open's check then sees the new one)
    assert info.value.size == 1000

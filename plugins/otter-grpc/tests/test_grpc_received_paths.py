"""File references received from another node are checked on receipt: a relative, normalised path under a
root this node's pipeline configures, and no symlink out of it. A hostile or misconfigured sender cannot
make a node write ``../../etc/...`` or into a directory of its choosing."""

import os

import pytest
from grpc_support import make_pipeline, receiver_of

from otter_core.errors import LoadError, PipeError
from otter_core.files.stage import FileStage
from otter_core.model import EventData, EventType, FileRef
from otter_grpc.codec import BatchCodec
from otter_grpc.pipe import GrpcPipe

HOSTILE = {
    "dot-dot": ("../../../etc/cron.d/otter", "/dst", "climbs out of the root"),
    "absolute": ("/etc/passwd", "/dst", "absolute"),
    "nul": ("img/a\x00.jpg", "/dst", "NUL"),
    "not-normalised": ("img/./../img/a.jpg", "/dst", "climbs out"),
    "dot-segment": ("img/./a.jpg", "/dst", "not normalised"),
    "backslash": ("..\\..\\x", "/dst", "backslash"),
    "other-root": ("img/a.jpg", "/etc", "not one this pipeline configures"),
}


def batch_of(ref: FileRef) -> list:
    return [("dst", 5, EventData("shop", "item", EventType.INSERT, {"id": 1}, {"v": 1}, files=(ref,)))]


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_hostile_file_reference_is_refused_when_decoded(case):
    path, root, reason = HOSTILE[case]
    sender = BatchCodec(make_pipeline(files_root=root))  # the peer claims whatever it likes
    receiver = BatchCodec(make_pipeline(files_root="/dst"))
    data = sender.encode(batch_of(FileRef(path, "/src", root, 3, 4)))
    with pytest.raises(PipeError, match=reason) as refused:
        receiver.decode(data)
    assert refused.value.retryable is False and "refused" in str(refused.value)


def test_a_node_without_file_pairs_accepts_no_files():
    data = BatchCodec(make_pipeline(files_root="/dst")).encode(
        batch_of(FileRef("a.jpg", "/src", "/dst", 1, 1))
    )
    with pytest.raises(PipeError, match="no pair of this pipeline syncs files"):
        BatchCodec(make_pipeline()).decode(data)


def test_the_generic_path_checks_file_references_too():
    hostile = FileRef("../x", "/src", "/dst", 1, 1)
    data = BatchCodec(make_pipeline(files_root="/dst")).encode({"odd shape": (hostile,)})
    with pytest.raises(PipeError, match="climbs out"):
        BatchCodec(make_pipeline(files_root="/dst")).decode(data)


def test_over_real_grpc_a_batch_naming_another_root_is_refused_and_nothing_written(node, tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "evil.txt").write_bytes(b"owned")
    st = os.stat(tmp_path / "src" / "evil.txt")
    sender = GrpcPipe(make_pipeline(files_root=str(victim)), node, "rpc")
    receiver = GrpcPipe(make_pipeline(files_root=str(tmp_path / "dst")), receiver_of(node, tmp_path), "rpc")
    try:
        ref = FileRef("evil.txt", str(tmp_path / "src"), str(victim), st.st_size, st.st_mtime_ns)
        key = sender.put(batch_of(ref))
        with pytest.raises(PipeError, match="not one this pipeline configures"):
            receiver.get(key)
    finally:
        sender.close()
        receiver.close()
    assert list(victim.iterdir()) == []


def test_a_symlink_in_the_target_tree_does_not_redirect_a_write(tmp_path):
    root, outside = tmp_path / "dst", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    os.symlink(outside, root / "img")
    (tmp_path / "src" / "img").mkdir(parents=True)
    (tmp_path / "src" / "img" / "a.jpg").write_bytes(b"jpeg")
    st = os.stat(tmp_path / "src" / "img" / "a.jpg")
    ref = FileRef("img/a.jpg", str(tmp_path / "src"), str(root), st.st_size, st.st_mtime_ns)

    class Local:
        def read(self, ref, offset, length):
            with open(os.path.join(ref.source_root, ref.path), "rb") as f:
                f.seek(offset)
                yield f.read(length)

        def release(self):
            pass

    stage = FileStage(pool_size=1, roots=frozenset({str(root)}))
    try:
        with pytest.raises(LoadError, match="outside the root"):
            stage.load(batch_of(ref), Local())
    finally:
        stage.close()
    assert list(outside.iterdir()) == []


def test_a_good_reference_still_loads(node, tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "ok.txt").write_bytes(b"fine")
    st = os.stat(tmp_path / "src" / "ok.txt")
    pipeline = make_pipeline(files_root=str(tmp_path / "dst"))
    sender, receiver = GrpcPipe(pipeline, node, "rpc"), GrpcPipe(pipeline, receiver_of(node, tmp_path), "rpc")
    try:
        ref = FileRef("ok.txt", str(tmp_path / "src"), str(tmp_path / "dst"), st.st_size, st.st_mtime_ns)
        key = sender.put(batch_of(ref))
        stage = FileStage(pool_size=1, roots=frozenset({str(tmp_path / "dst")}))
        assert stage.load(receiver.get(key), receiver.files(key)) == 1
        stage.close()
    finally:
        sender.close()
        receiver.close()
    assert (tmp_path / "dst" / "ok.txt").read_bytes() == b"fine"

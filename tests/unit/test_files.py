"""File sync building blocks: resolving files in Extract, writing them resumably and atomically in Load."""

import os

import attrs
import pytest

from otter_core.builtin.template_resolver import otter_file_resolver
from otter_core.errors import ConfigError, DataError, FileChanged, LoadError
from otter_core.files import fetch as fetch_module
from otter_core.files.collect import collect_files
from otter_core.files.fetch import fetch_file, part_paths
from otter_core.files.local import LocalFileSource, read_range
from otter_core.files.stage import FileStage, batch_files
from otter_core.model import DataMedia, DataMediaPair, EventData, EventType, FileAction, FileRef


def make_pair(tmp_path, **options) -> DataMediaPair:
    options = {
        "templates": ["img/{id}.bin"],
        "source_root": str(tmp_path / "src"),
        "target_root": str(tmp_path / "dst"),
        **options,
    }
    return DataMediaPair(
        DataMedia("shop", "item"),
        DataMedia("shop", "item"),
        file_resolver="template",
        file_resolver_options=options,
    )


def event(kind=EventType.INSERT, **columns) -> EventData:
    return EventData("shop", "item", kind, {"id": columns.pop("id", 1)}, columns)


def write(path, data: bytes, mtime_ns: int = 1_600_000_000_000_000_000):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(data)
    os.utime(path, ns=(mtime_ns, mtime_ns))


def resolve(pair, e):
    return collect_files(otter_file_resolver("template", pair.file_resolver_options, pair), pair, e)


def test_template_resolver_builds_paths_from_columns_and_extract_stats_them(tmp_path):
    pair = make_pair(tmp_path, templates=["img/{id}.bin", "thumb/{shop}/{id:04d}.bin"])
    write(tmp_path / "src/img/7.bin", b"x" * 10)
    write(tmp_path / "src/thumb/s1/0007.bin", b"y" * 3)
    refs = resolve(pair, event(id=7, shop="s1"))
    assert [(r.path, r.size, r.mtime_ns, r.action) for r in refs] == [
        ("img/7.bin", 10, 1_600_000_000_000_000_000, FileAction.COPY),
        ("thumb/s1/0007.bin", 3, 1_600_000_000_000_000_000, FileAction.COPY),
    ]
    assert refs[0].checksum is None


def test_a_null_column_means_no_file(tmp_path):
    pair = make_pair(tmp_path, templates=["img/{image}"])
    assert resolve(pair, event(image=None)) == ()


def test_checksum_is_computed_when_configured(tmp_path):
    write(tmp_path / "src/img/1.bin", b"abc")
    (ref,) = resolve(make_pair(tmp_path, checksum=True), event())
    assert ref.checksum == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_a_missing_file_stops_with_the_file_and_row_named_unless_skipped(tmp_path):
    with pytest.raises(DataError, match=r"img/1.bin.*INSERT shop.item \(id=1\).*missing: skip") as info:
        resolve(make_pair(tmp_path), event())
    assert info.value.retryable  # the file may arrive after its row
    assert resolve(make_pair(tmp_path, missing="skip"), event()) == ()


def test_deletes_carry_files_only_when_delete_is_required(tmp_path):
    assert resolve(make_pair(tmp_path), event(EventType.DELETE)) == ()
    (ref,) = resolve(make_pair(tmp_path, is_delete_required=True), event(EventType.DELETE))
    assert ref.action is FileAction.DELETE and ref.path == "img/1.bin"


@pytest.mark.parametrize("value", ["../../etc/passwd", "/etc/passwd", ".."])
def test_paths_leaving_the_root_are_refused(tmp_path, value):
    with pytest.raises(DataError, match="not a relative path inside the root"):
        resolve(make_pair(tmp_path, templates=["{name}"]), event(name=value))


@pytest.mark.parametrize(
    "options, message",
    [
        ({"templates": ["{id.__class__}"]}, "must name columns"),
        ({"templates": []}, "options.templates"),
        ({"missing": "maybe"}, "missing must be one of"),
    ],
)
def test_bad_resolver_options_are_config_errors(tmp_path, options, message):
    pair = make_pair(tmp_path, **options)
    with pytest.raises(ConfigError, match=message):
        resolve(pair, event())


def test_a_template_naming_an_unknown_column_names_it(tmp_path):
    with pytest.raises(DataError, match="'sku'"):
        resolve(make_pair(tmp_path, templates=["{sku}.jpg"]), event())


def source_file(tmp_path, size: int, name="big.bin") -> FileRef:
    data = os.urandom(size)
    write(tmp_path / "src" / name, data)
    st = os.stat(tmp_path / "src" / name)
    return FileRef(name, str(tmp_path / "src"), str(tmp_path / "dst"), st.st_size, st.st_mtime_ns)


def test_fetch_writes_atomically_keeping_mtime_in_parallel_ranges(tmp_path):
    ref = source_file(tmp_path, 5 * 1024 * 1024 + 17)
    target = str(tmp_path / "dst/big.bin")
    assert fetch_file(ref, read_range, target, streams=4, chunk_bytes=256 * 1024) == ref.size
    assert open(target, "rb").read() == open(tmp_path / "src/big.bin", "rb").read()
    assert os.stat(target).st_mtime_ns == ref.mtime_ns
    assert not any(os.path.exists(p) for p in part_paths(target))


def test_an_interrupted_fetch_resumes_with_the_missing_chunks_only(tmp_path, monkeypatch):
    ref = source_file(tmp_path, 40 * 1000)
    target = str(tmp_path / "dst/big.bin")
    monkeypatch.setattr(fetch_module, "SIDECAR_EVERY_SECONDS", 0.0)
    served = []

    def breaking(r, offset, length):
        for data in read_range(r, offset, length, chunk=1000):
            if len(served) == 25:
                raise ConnectionError("stream broke")
            served.append(len(data))
            yield data

    with pytest.raises(ConnectionError):
        fetch_file(ref, breaking, target, chunk_bytes=1000)
    assert os.path.exists(part_paths(target)[0]) and not os.path.exists(target)
    assert fetch_file(ref, read_range, target, chunk_bytes=1000) == 15 * 1000  # 25 of 40 chunks were kept
    assert open(target, "rb").read() == open(tmp_path / "src/big.bin", "rb").read()


def test_a_partial_copy_of_another_version_is_not_resumed(tmp_path):
    ref = source_file(tmp_path, 3000)
    target = str(tmp_path / "dst/big.bin")
    part, sidecar = part_paths(target)
    write(part, b"z" * 3000)
    with open(sidecar, "w") as handle:
        handle.write('{"size": 3000, "mtime_ns": 1, "chunk": 1000, "checksum": null, "done": [0, 1, 2]}')
    assert fetch_file(ref, read_range, target, chunk_bytes=1000) == 3000
    assert open(target, "rb").read() == open(tmp_path / "src/big.bin", "rb").read()


def test_a_checksum_mismatch_drops_the_copy(tmp_path):
    ref = attrs.evolve(source_file(tmp_path, 2000), checksum="0" * 64)
    with pytest.raises(Exception, match="checksum mismatch"):
        fetch_file(ref, read_range, str(tmp_path / "dst/big.bin"))
    assert not os.path.exists(tmp_path / "dst/big.bin")
    assert not os.path.exists(part_paths(str(tmp_path / "dst/big.bin"))[0])


def test_reading_a_file_that_changed_since_extract_says_so(tmp_path):
    ref = source_file(tmp_path, 100)
    write(tmp_path / "src/big.bin", b"new")
    with pytest.raises(FileChanged) as info:
        list(read_range(ref, 0, 100))
    assert info.value.size == 3


def test_a_file_truncated_in_place_while_read_is_copied_again_not_taken_as_deleted(tmp_path):
    """The size matched when the file was opened; it shrank between two chunks (same inode)."""
    ref = source_file(tmp_path, 300_000)
    path = tmp_path / "src/big.bin"
    truncated = []

    class TruncatingSource(LocalFileSource):
        def read(self, ref, offset, length):
            for data in read_range(ref, offset, length, chunk=50_000):
                yield data
                if not truncated:
                    os.truncate(path, 70_000)
                    os.utime(path, ns=(1_700_000_000_000_000_000,) * 2)
                    truncated.append(True)

    with pytest.raises(FileChanged) as info:
        list(TruncatingSource().read(ref, 0, 300_000))
    assert (info.value.size, info.value.mtime_ns) == (70_000, 1_700_000_000_000_000_000)

    write(path, os.urandom(300_000))
    ref = attrs.evolve(ref, mtime_ns=os.stat(path).st_mtime_ns)
    truncated.clear()
    stage = FileStage(pool_size=1)
    assert stage.load(files_batch([ref]), TruncatingSource()) == 1
    assert open(tmp_path / "dst/big.bin", "rb").read() == open(path, "rb").read()
    assert len(open(path, "rb").read()) == 70_000 and stage.stats.gone == 0
    stage.close()


def files_batch(refs):
    return [
        ("dst", 5, EventData("shop", "item", EventType.INSERT, {"id": i}, files=(ref,)))
        for i, ref in enumerate(refs)
    ]


def test_stage_copies_then_skips_unchanged_files(tmp_path):
    refs = [source_file(tmp_path, n, f"f{n}.bin") for n in (0, 1, 5000, 300_000)]
    stage = FileStage(pool_size=3)
    assert stage.load(files_batch(refs), LocalFileSource()) == 4
    assert (stage.stats.copied, stage.stats.bytes) == (4, 305_001)
    assert stage.load(files_batch(refs), LocalFileSource()) == 0
    assert stage.stats.skipped == 4 and stage.stats.copied == 4
    stage.close()


def test_stage_skipping_a_current_file_removes_the_sidecar_a_kill_left(tmp_path):
    """kill -9 after the copy was renamed into place but before its sidecar was removed."""
    ref = source_file(tmp_path, 3000)
    target = str(tmp_path / "dst/big.bin")
    fetch_file(ref, read_range, target, chunk_bytes=1000)
    sidecar = part_paths(target)[1]
    with open(sidecar, "w") as handle:
        handle.write('{"size": 3000, "mtime_ns": 1, "chunk": 1000, "checksum": null, "done": [0, 1]}')
    stage = FileStage(pool_size=1)
    assert stage.load(files_batch([ref]), LocalFileSource()) == 0 and stage.stats.skipped == 1
    assert not os.path.exists(sidecar) and sorted(os.listdir(tmp_path / "dst")) == ["big.bin"]
    stage.close()


def test_stage_with_checksums_skips_equal_content_and_fixes_its_mtime(tmp_path):
    ref = source_file(tmp_path, 1000)
    write(tmp_path / "dst/big.bin", open(tmp_path / "src/big.bin", "rb").read(), mtime_ns=5)
    from otter_core.files.collect import file_checksum

    ref = attrs.evolve(ref, checksum=file_checksum(str(tmp_path / "src/big.bin")))
    stage = FileStage(pool_size=1)
    assert stage.load(files_batch([ref]), LocalFileSource()) == 0
    assert os.stat(tmp_path / "dst/big.bin").st_mtime_ns == ref.mtime_ns
    stage.close()


def test_stage_copies_the_current_file_when_it_changed_after_extract(tmp_path):
    ref = source_file(tmp_path, 1000)
    write(tmp_path / "src/big.bin", b"rewritten", mtime_ns=1_700_000_000_000_000_000)
    stage = FileStage(pool_size=1)
    stage.load(files_batch([ref]), LocalFileSource())
    assert open(tmp_path / "dst/big.bin", "rb").read() == b"rewritten"
    assert os.stat(tmp_path / "dst/big.bin").st_mtime_ns == 1_700_000_000_000_000_000
    stage.close()


def test_stage_deletes_and_the_last_action_per_file_wins(tmp_path):
    ref = source_file(tmp_path, 10)
    write(tmp_path / "dst/big.bin", b"old")
    batch = files_batch([ref, attrs.evolve(ref, action=FileAction.DELETE)])
    assert batch_files(batch) == [attrs.evolve(ref, action=FileAction.DELETE)]
    stage = FileStage(pool_size=2)
    assert stage.load(batch, LocalFileSource()) == 1
    assert not os.path.exists(tmp_path / "dst/big.bin") and stage.stats.deleted == 1
    assert stage.load(batch, LocalFileSource()) == 0  # deleting again is harmless
    stage.close()


def test_a_file_that_cannot_be_written_fails_the_batch_naming_it(tmp_path):
    ref = source_file(tmp_path, 10)
    os.makedirs(tmp_path / "dst")
    write(tmp_path / "dst/big.bin.blocker", b"")
    ref = attrs.evolve(ref, path="big.bin.blocker/inner.bin")
    write(tmp_path / "src/big.bin.blocker/inner.bin", b"x" * 10, mtime_ns=ref.mtime_ns)
    stage = FileStage(pool_size=1)
    with pytest.raises(LoadError, match=r"big.bin.blocker/inner.bin"):
        stage.load(files_batch([ref]), LocalFileSource())
    stage.close()

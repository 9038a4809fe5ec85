"""The committed gRPC stubs are exactly what the .proto generates (regenerate: python -m otter_grpc.stubs)."""

from pathlib import Path

from otter_grpc import stubs


def test_committed_stubs_match_the_proto(tmp_path):
    for generated in stubs.generate(str(tmp_path)):
        name = Path(generated).name
        committed = Path(stubs.PACKAGE_DIR) / name
        assert committed.read_text() == Path(generated).read_text(), (
            f"{name} is stale: run `python -m otter_grpc.stubs` and commit the result"
        )

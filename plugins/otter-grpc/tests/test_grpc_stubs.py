"""The committed gRPC stubs are exactly what the .proto generates with the pinned generator.

The generator is grpcio-tools at the version constraints.txt locks (and otter-grpc's `dev` extra pins);
a newer grpcio-tools writes other stubs, so the test first checks that the pinned one is installed.
Regenerate after changing the .proto or the pin: `python -m otter_grpc.stubs`, then commit the stubs.
"""

import re
from importlib import metadata
from pathlib import Path

from otter_grpc import stubs

PACKAGE = Path(__file__).resolve().parents[1]
COMMITTED_DIR = PACKAGE / "otter_grpc"  # the repo's copy, also when the tests run against the wheel
CONSTRAINTS = PACKAGE.parents[1] / "constraints.txt"
REGENERATE = (
    "install the pinned generator (`pip install -c constraints.txt grpcio-tools`, as scripts/test.sh does), "
    "run `python -m otter_grpc.stubs` from plugins/otter-grpc and commit the result"
)


def pinned_generator() -> str:
    match = re.search(r"^grpcio-tools==(\S+)", CONSTRAINTS.read_text(), re.MULTILINE)
    assert match, f"{CONSTRAINTS} pins no grpcio-tools: run `bash scripts/lock.sh`"
    return match.group(1)


def test_the_installed_generator_is_the_pinned_one():
    installed = metadata.version("grpcio-tools")
    assert installed == pinned_generator(), (
        f"grpcio-tools {installed} is installed but constraints.txt pins {pinned_generator()}: {REGENERATE}"
    )


def test_the_committed_stubs_record_the_pinned_generator():
    grpc_stub = (COMMITTED_DIR / "otter_pipe_pb2_grpc.py").read_text()
    assert f"GRPC_GENERATED_VERSION = '{pinned_generator()}'" in grpc_stub, (
        f"the committed stubs were not made by grpcio-tools {pinned_generator()}: {REGENERATE}"
    )


def test_committed_stubs_match_the_proto(tmp_path):
    for generated in stubs.generate(str(tmp_path)):
        name = Path(generated).name
        committed = COMMITTED_DIR / name
        assert committed.read_text() == Path(generated).read_text(), f"{name} is stale: {REGENERATE}"

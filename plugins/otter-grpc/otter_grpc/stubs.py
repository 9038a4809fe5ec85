"""Generate the gRPC stubs from ``proto/otter_pipe.proto`` (needs grpcio-tools, a development tool only).

The generated modules are committed so that installing otter-grpc needs only grpcio and protobuf at run
time; ``tests/test_grpc_stubs.py`` checks that the installed grpcio-tools is the one constraints.txt pins,
regenerates them into a temporary folder and fails when they differ. Run ``python -m otter_grpc.stubs``
from plugins/otter-grpc (so that it writes into the source tree) after changing the .proto or the pin.
"""

from __future__ import annotations

import os
import sys

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
PROTO = "otter_pipe.proto"
GENERATED = ("otter_pipe_pb2.py", "otter_pipe_pb2_grpc.py")


def generate(out_dir: str) -> list[str]:
    """Write the generated modules into ``out_dir``; return their paths."""
    from grpc_tools import protoc  # development dependency, imported only here

    proto_dir = os.path.join(PACKAGE_DIR, "proto")
    code = protoc.main(
        [
            "grpc_tools.protoc",
            f"-I{proto_dir}",
            f"--python_out={out_dir}",
            f"--grpc_python_out={out_dir}",
            os.path.join(proto_dir, PROTO),
        ]
    )
    if code != 0:
        raise RuntimeError(f"protoc failed on {PROTO} with exit code {code}")
    paths = [os.path.join(out_dir, name) for name in GENERATED]
    grpc_module = paths[1]
    with open(grpc_module) as handle:  # protoc writes an absolute-style import; we are a package
        text = handle.read()
    with open(grpc_module, "w") as handle:
        handle.write(text.replace("import otter_pipe_pb2 as", "from otter_grpc import otter_pipe_pb2 as"))
    return paths


if __name__ == "__main__":
    for path in generate(PACKAGE_DIR):
        print("wrote", path)
    sys.exit(0)

"""Helpers of the otter-grpc tests: a pipeline, a receiving node, a batch. (Fixtures are in conftest.py;
helpers live here, under a unique module name, so that several plugins' test folders share one run.)"""

from __future__ import annotations

from pathlib import Path

import attrs

from otter_core.spi import (
    DataMedia,
    DataMediaPair,
    EventData,
    EventType,
    NodeContext,
    Pipeline,
    PipelineParameters,
    Position,
)


def make_pipeline(pipe: str = "rpc", files_root: str | None = None, **parameters) -> Pipeline:
    """A one-pair pipeline; ``files_root``: the pair syncs files to that target root (the receiving node
    accepts files for the roots its pipeline configures, and no others)."""
    pair = DataMediaPair(DataMedia("shop", "item"), DataMedia("shop", "item"))
    if files_root is not None:
        options = {"source_root": "/src", "target_root": files_root}
        pair = attrs.evolve(pair, file_resolver="template", file_resolver_options=options)
    return Pipeline(
        "p1", "src", "dst", (pair,), pipe=pipe, channel="ch", parameters=PipelineParameters(**parameters)
    )


def receiver_of(node: NodeContext, tmp_path: Path, **changes) -> NodeContext:
    """The receiving node: same secrets, its own id and spool (it never serves in these tests)."""
    import attrs

    return attrs.evolve(node, node_id="receiver", spool_dir=str(tmp_path / "spool-receiver"), **changes)


def items(count: int, width: int = 40) -> list:
    """A batch after Transform: ``count`` inserts of ``width``-character names."""
    return [
        (
            "dst",
            5,
            EventData(
                "shop",
                "item",
                EventType.INSERT,
                {"id": i},
                {"name": "x" * width, "n": i},
                position=Position("bin.1", i),
            ),
        )
        for i in range(count)
    ]

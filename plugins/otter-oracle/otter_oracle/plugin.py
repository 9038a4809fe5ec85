"""pluggy hooks of otter-oracle. python-oracledb is imported only when an Oracle loader is created."""

from __future__ import annotations

from typing import Any

from otter_core.spi import DataMediaSource, Pipeline, hookimpl

NAME = "oracle"


@hookimpl
def otter_loader(name: str, target: DataMediaSource, pipeline: Pipeline) -> Any:
    """An ``OracleLoader`` for targets of type oracle."""
    if name != NAME:
        return None
    from otter_oracle.loader import OracleLoader

    return OracleLoader(target, pipeline)

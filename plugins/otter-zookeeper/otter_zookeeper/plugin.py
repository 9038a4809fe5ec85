"""The ``zookeeper`` entry point of ``otter.arbitrators``.

The ZooKeeper arbitrator is built by the node that wins a pipeline's election (``otter-run node``), which
owns the ZooKeeper session; the single-process ``otter-run run`` cannot use it and says so.
"""

from __future__ import annotations

from otter_core.spi import ConfigError, Pipeline, hookimpl


@hookimpl
def otter_arbitrator(name: str, pipeline: Pipeline, channel: str, state_dir: str) -> None:
    if name != "zookeeper":
        return None
    raise ConfigError(
        f"pipeline {channel}/{pipeline.name}: arbitrator zookeeper runs under `otter-run node`: "
        f"deploy the file with `otter-run deploy FILE --zk HOSTS --select N --load N` and start "
        f"nodes with `otter-run node --zk HOSTS --id N`, or use `arbitrator: memory` with `otter-run run`"
    )

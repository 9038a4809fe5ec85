"""pluggy hooks of otter-redis. redis-py is imported only when a Redis loader is created."""

from __future__ import annotations

from typing import Any

from otter_core.spi import DataMediaSource, Pipeline, hookimpl

NAME = "redis"


@hookimpl
def otter_loader(name: str, target: DataMediaSource, pipeline: Pipeline) -> Any:
    """A ``RedisCacheLoader`` for targets of type redis."""
    if name != NAME:
        return None
    from otter_redis.loader import RedisCacheLoader

    return RedisCacheLoader(target, pipeline)

"""pluggy hooks of otter-postgresql. psycopg is imported only when a PostgreSQL loader is created."""

from __future__ import annotations

from typing import Any

from otter_core.spi import DataMediaSource, Pipeline, hookimpl

NAMES = ("postgresql", "postgres")


@hookimpl
def otter_loader(name: str, target: DataMediaSource, pipeline: Pipeline) -> Any:
    """A ``PostgreSQLLoader`` for targets of type postgresql."""
    if name not in NAMES:
        return None
    from otter_postgresql.loader import PostgreSQLLoader

    return PostgreSQLLoader(target, pipeline)

"""pluggy hooks of otter-postgresql. psycopg is imported only when a loader or a connection check needs it."""

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


@hookimpl
def otter_source_admin(name: str, source: DataMediaSource) -> Any:
    """A ``PostgreSQLSourceAdmin`` (the connection check) for postgresql targets."""
    if name not in NAMES:
        return None
    from otter_postgresql.admin import PostgreSQLSourceAdmin

    return PostgreSQLSourceAdmin(source)

"""Helpers shared by the loader tests: build a loader for the test target and events."""

from __future__ import annotations

from typing import Any

from otter_core.spi import DataMediaSource, EventData, EventType, Pipeline, PipelineParameters, SyncMode
from otter_core.testing.mariadb import OTTER_PASSWORD, OTTER_USER, MariaDBServer
from otter_mysql.loader import MySQLLoader

DB = "lt"


def make_loader(
    server: MariaDBServer,
    sync_mode: SyncMode = SyncMode.FIELD,
    pool: int = 4,
    dry_run: bool = False,
    options: dict[str, Any] | None = None,
    **kwargs: Any,
) -> MySQLLoader:
    """A loader for ``server`` as the pipeline's target; ``options`` are the target's options
    (``one_trip_commit``, ``multi_statement`` …), ``kwargs`` the loader's (``chunk_rows`` …)."""
    target = DataMediaSource(
        name="target",
        type="mysql",
        host="127.0.0.1",
        port=server.port,
        user=OTTER_USER,
        password=OTTER_PASSWORD,
        options=options or {},
    )
    params = PipelineParameters(sync_mode=sync_mode, load_pool_size=pool, dry_run=dry_run)
    pipeline = Pipeline(name="p", source="source", target="target", pairs=(), parameters=params)
    return MySQLLoader(target, pipeline, **kwargs)


def ins(table: str, id: int, **cols: Any) -> EventData:
    return EventData(DB, table, EventType.INSERT, keys={"id": id}, columns=cols)


def upd(table: str, id: int, updated: set[str] | None = None, **cols: Any) -> EventData:
    return EventData(
        DB,
        table,
        EventType.UPDATE,
        keys={"id": id},
        columns=cols,
        updated=frozenset(cols if updated is None else updated),
    )


def dele(table: str, id: int, **cols: Any) -> EventData:
    return EventData(DB, table, EventType.DELETE, keys={"id": id}, columns=cols)


def rows(server: MariaDBServer, sql: str) -> list[tuple]:
    return server.execute(sql)

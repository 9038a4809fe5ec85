"""Helpers shared by the selector tests: pipelines over the test source, collecting transactions."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Mapping
from typing import Any

import pymysql
from pymysqlreplication import BinLogStreamReader

from otter_core.spi import (
    DataMedia,
    DataMediaPair,
    DataMediaSource,
    EventData,
    Pipeline,
    PipelineParameters,
    Position,
    Transaction,
)
from otter_core.testing.mariadb import OTTER_PASSWORD, OTTER_USER, MariaDBServer
from otter_mysql.schema import SchemaCache, TableSchema
from otter_mysql.selector import MySQLSelector

_names = itertools.count(1)


def make_source(server: MariaDBServer, **over: Any) -> DataMediaSource:
    args = dict(
        name="src",
        type="mariadb",
        host="127.0.0.1",
        port=server.port,
        user=OTTER_USER,
        password=OTTER_PASSWORD,
    )
    args.update(over)
    return DataMediaSource(**args)


def make_pipeline(
    pairs: Iterable[tuple[str, str]], start: Mapping[str, Any] | None = None, **params: Any
) -> Pipeline:
    media = tuple(DataMediaPair(DataMedia(s, t), DataMedia(s, t)) for s, t in pairs)
    return Pipeline(
        name=f"selector-test-{next(_names)}",
        source="src",
        target="dst",
        pairs=media,
        start=dict(start or {"kind": "current"}),
        parameters=PipelineParameters(**params),
    )


def make_selector(
    server: MariaDBServer,
    pairs: Iterable[tuple[str, str]],
    start: Mapping[str, Any] | None = None,
    position: Position | None = None,
    source: DataMediaSource | None = None,
    **params: Any,
) -> MySQLSelector:
    selector = MySQLSelector(source or make_source(server), make_pipeline(pairs, start, **params))
    selector.start(position)
    return selector


def collect(
    selector: MySQLSelector,
    transactions: int | None = None,
    events: int | None = None,
    timeout: float = 10.0,
    keep_empty: bool = False,
) -> list[Transaction]:
    """Poll until ``transactions`` non-empty transactions or ``events`` events arrived."""
    out: list[Transaction] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        tx = selector.poll(0.2)
        if tx is None:
            continue
        if tx.events or keep_empty:
            out.append(tx)
        if transactions is not None and sum(1 for t in out if t.events) >= transactions:
            return out
        if events is not None and sum(len(t.events) for t in out) >= events:
            return out
    raise AssertionError(f"timed out with {len(out)} transactions / {sum(len(t.events) for t in out)} events")


def drain(selector: MySQLSelector, quiet: float = 0.5) -> list[Transaction]:
    """Every transaction (empty ones too) until nothing arrives for ``quiet`` seconds."""
    out = []
    while True:
        tx = selector.poll(quiet)
        if tx is None:
            return out
        out.append(tx)


def events_of(transactions: Iterable[Transaction]) -> list[EventData]:
    return [e for t in transactions for e in t.events]


def insert_event(conn: Any, table: str, event: EventData) -> None:
    """INSERT the event's values with PyMySQL parameters (what a loader does)."""
    values = {**event.keys, **event.columns}
    cols = ", ".join(f"`{c}`" for c in values)
    marks = ", ".join(["%s"] * len(values))
    with conn.cursor() as cur:
        cur.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", list(values.values()))


def target_conn(server: MariaDBServer, db: str) -> Any:
    """A loader-like session: UTC, permissive sql_mode (zero dates, no auto value on 0)."""
    conn = server.connect(database=db)
    with conn.cursor() as cur:
        cur.execute("SET time_zone = '+00:00', sql_mode = 'NO_AUTO_VALUE_ON_ZERO'")
    return conn


def read_rows_events(
    server: MariaDBServer, start: tuple[str, int], server_id: int, kinds: list
) -> list[tuple]:
    """``(event, table-map columns, body)`` of every rows event of ``kinds`` after ``start``, read with
    mysql-replication: the raw bodies the decoder tests feed the compiled and the Python decoders."""
    reader = BinLogStreamReader(
        {"host": "127.0.0.1", "port": server.port, "user": OTTER_USER, "password": OTTER_PASSWORD},
        server_id=server_id,
        log_file=start[0],
        log_pos=start[1],
        resume_stream=True,
        blocking=False,
        only_events=kinds,
        enable_logging=False,
        freeze_schema=True,
    )
    out = []
    for ev in reader:
        body = ev.packet.read(ev.event_size - ev.packet.read_bytes)
        out.append((ev, reader.table_map[ev.table_id].columns, body))
    reader.close()
    return out


def table_schemas(server: MariaDBServer, schema: str, tables: Iterable[str]) -> dict[str, TableSchema]:
    """The schema cache's view of ``tables`` (what a codec is built from)."""
    cache = SchemaCache(
        lambda: pymysql.connect(
            host="127.0.0.1",
            port=server.port,
            user=OTTER_USER,
            password=OTTER_PASSWORD,
            autocommit=True,
        )
    )
    try:
        return {table: cache.get(schema, table) for table in tables}
    finally:
        cache.close()

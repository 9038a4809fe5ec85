"""The initial load's bulk path: a chunk's text-protocol rows written to the target without EventData.

A chunk read by the table reader arrives as its row packets (``bulk_read.FastResult``). For a table
whose every column has an exact text form (``literal_kinds``) the reader returns a ``PackedChunk``; the
snapshot sends it to the loader as one block (``otter_core.engine.snapshot_bulk``), and ``load_chunk``
turns the packets into the statement's text in C (``_rowdecode.sql_rows``): no Python object per row or
value, no merge and no per-row planning. The statement is ``LOAD DATA LOCAL INFILE … REPLACE``
(``bulk_infile``: the target's cheapest) or, where that is refused, turned off or the target table has
triggers, the row path's ``INSERT … ON DUPLICATE KEY UPDATE``; either way a replayed chunk leaves the
same rows, and a value the target stores changed is an error, not a warning. Where the block cannot be
written this way (``refusal``) the engine loads its rows through the row path instead.
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Sequence
from typing import Any

from otter_core.spi import LoadError
from otter_mysql import bulk_infile, fencing
from otter_mysql.bulk_read import Packets, unpack
from otter_mysql.dialect import upsert_parts
from otter_mysql.rowops import EXTENSION
from otter_mysql.server_errors import data_warnings, error_code, error_kwargs, server_message

log = logging.getLogger("otter.load")
SQL_ROWS = getattr(EXTENSION, "sql_rows", None)

# sql_rows' literal kinds (bulkrows.c): BYTES (binary strings) is HEX in the upsert; LOAD DATA takes
# their bytes escaped, and HEX (BIT, GEOMETRY) as hex set with UNHEX
NUMBER, DOUBLE, TEXT, HEX, BYTES = range(5)
_NUMBERS = {"tinyint", "smallint", "mediumint", "int", "integer", "bigint", "decimal", "numeric", "year"}
_DOUBLES = {"double", "float", "real", "double precision"}  # FLOAT is read AS DOUBLE (table_reader)
_TEXTS = {"char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set"}
_TEMPORALS = {"date", "datetime", "timestamp", "time"}
_BINARIES = {"binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob", "bit"}
# the server sends a geometry as its stored bytes (SRID + WKB); the row path writes them as X'hex' too
_GEOMETRIES = {
    "geometry",
    "point",
    "linestring",
    "polygon",
    "multipoint",
    "multilinestring",
    "multipolygon",
    "geometrycollection",
}


class ChangedValue(Exception):
    """The target stored a value of the chunk changed (a data warning): deterministic, the row path
    then applies the chunk and names the row."""


def literal_kinds(columns: Sequence[Any]) -> bytes | None:
    """One literal kind per column (``schema.ColumnInfo``), or None when a column's text is not known to
    be written back exactly (MariaDB's INET4/INET6/UUID, anything new): its table keeps the row path.

    Text columns arrive as the reader connection's UTF-8 (the server converts other character sets)
    and are quoted as PyMySQL quotes a str; binary ones as X'hex', as ``dialect.literal`` writes bytes;
    JSON as text (MySQL refuses a binary string for a JSON column)."""
    kinds = bytearray()
    for column in columns:
        data_type = column.data_type
        if data_type in _NUMBERS:
            kinds.append(NUMBER)
        elif data_type in _DOUBLES:
            kinds.append(DOUBLE)
        elif data_type in _TEMPORALS or data_type == "json":
            kinds.append(TEXT)
        elif data_type in _TEXTS:
            kinds.append(BYTES if column.is_binary else TEXT)
        elif data_type == "bit" or data_type in _GEOMETRIES:
            kinds.append(HEX)
        elif data_type in _BINARIES:
            kinds.append(BYTES)
        else:
            return None
    return bytes(kinds)


class PackedChunk:
    """A chunk's rows as their row packets, with what the snapshot needs without parsing them: the row
    count and the last row (the next chunk starts after its key). ``rows()`` parses them (in C) for the
    row path and for the keys changed between the watermarks."""

    __slots__ = ("raw", "kinds", "calls", "lits", "count", "last")

    def __init__(self, raw: bytes, kinds: bytes, calls: tuple, lits: bytes, count: int, last: tuple | None):
        self.raw, self.kinds, self.calls, self.lits = raw, kinds, calls, lits
        self.count, self.last = count, last

    def __reduce_ex__(self, protocol: Any) -> tuple:
        # protocol 5 can send the packets out of band (the snapshot reader's pipe): not copied into the
        # pickle, and the same bytes object on arrival
        raw = pickle.PickleBuffer(self.raw) if protocol >= 5 else self.raw
        return PackedChunk, (raw, self.kinds, self.calls, self.lits, self.count, self.last)

    def __len__(self) -> int:
        return self.count

    def rows(self) -> list[tuple]:
        return unpack(self.raw, self.kinds, self.calls) if self.count else []


def packed_chunk(rows: Any, lits: bytes | None) -> PackedChunk | list[tuple]:
    """``rows`` (``bulk_read.result_rows``) as a ``PackedChunk`` when they came as packets and every
    column has a literal kind; otherwise the rows themselves (the row path)."""
    if isinstance(rows, Packets):
        if lits is None or SQL_ROWS is None:
            return rows.rows()
        return PackedChunk(rows.raw, rows.kinds, rows.calls, lits, rows.count, rows.last)
    packed = getattr(rows, "packed", None)
    if packed is None or lits is None or SQL_ROWS is None:
        return rows
    raw, kinds, calls = packed
    return PackedChunk(raw, kinds, calls, lits, len(rows), tuple(rows[-1]) if rows else None)


def refusal(loader: Any, conn: Any, block: Any) -> str | None:
    """Why ``block`` cannot take the bulk path on this loader (None: it can). Its rows then go through
    the row path, whose upsert clears the holders of other UNIQUE keys first and whose two-way mark,
    conflict checks and dry run the bulk path does not have."""
    if SQL_ROWS is None:
        return "the otter_mysql._rowdecode extension has no sql_rows"
    if loader.dry_run or loader.mark or loader.conflicts is not None:
        return "dry run, two-way marks or conflict checks"
    if str(conn.encoding).lower() not in ("utf8", "utf8mb4"):
        return f"the target connection's character set is {conn.encoding}, the chunk's text is UTF-8"
    table = loader._schemas.get(conn, block.schema, block.table)
    if not table.exists:
        return "the target table does not exist"
    missing = [c for c in block.columns if c.lower() not in table.writable]
    if missing:
        return f"the target table has no writable column {', '.join(missing)}"
    if table.other_unique_keys(block.key):
        return "the target table has a UNIQUE key besides the chunk's key"
    return None


def load_chunk(loader: Any, block: Any, start: int, end: int, slot: int) -> int | None:
    """Rows ``start``..``end`` of ``block`` (``snapshot_bulk.ChunkBlock``) upserted in one transaction
    on connection ``slot``; the rows written, or None when the block must take the row path (logged
    once per table with the reason)."""
    state = loader._slot(slot)
    conn = state.conn
    reason = refusal(loader, conn, block)
    if reason is not None:
        logged = ("bulk", block.schema, block.table)
        if logged not in loader._fallbacks_logged:
            loader._fallbacks_logged.add(logged)
            log.warning(
                "initial load of %s.%s: chunks go through the row path (%s)",
                block.schema,
                block.table,
                reason,
            )
        return None
    table = loader._schemas.get(conn, block.schema, block.table)
    if _takes_infile(loader, conn, block):
        try:
            return _load_infile(loader, block, table, start, end, slot)
        except _Refused as exc:
            loader._infile_refused = True
            log.warning(
                "LOAD DATA LOCAL INFILE refused by target %s (%s): chunks use the upsert", loader._label, exc
            )
    head, tail = upsert_parts(block.schema, block.table, block.columns, block.key, None)
    head_b, tail_b = head.encode(), tail.encode()
    packed = block.packed
    limit = max(1024, min(loader.chunk_bytes, state.max_packet // 4))  # as the row path cuts statements
    skip = block.skip or None
    sql_rows: Any = SQL_ROWS
    _, offset, row = sql_rows(packed.raw, packed.lits, 0, 0, start, -1, None)  # seek to row start
    statements = 0
    try:
        with conn.cursor() as cur:
            if loader._fence is not None:
                fencing.check(cur, loader._label, *loader._fence)
            while row < end:
                first = row
                text, offset, row = sql_rows(packed.raw, packed.lits, offset, row, end, limit, skip)
                if not text:
                    continue  # every row of the run changed between the watermarks
                if len(head_b) + len(text) + len(tail_b) > state.max_packet and row - first == 1:
                    conn.rollback()  # one row over max_allowed_packet: the row path splits or names it
                    return None
                cur.execute(head_b + text + tail_b)
                statements += 1
                _refuse_changed_values(cur, table)
        conn.commit()
    except ChangedValue as exc:
        loader._discard_or_rollback(slot, exc)
        raise _changed_values_error(block, start, end, exc) from exc
    except Exception as exc:
        loader._discard_or_rollback(slot, exc)
        raise LoadError(
            f"initial load of {block.schema}.{block.table}: a chunk's upsert failed at rows "
            f"{start}..{end}: {server_message(exc)}",
            **error_kwargs(exc),
        ) from exc
    loader._statements[slot] += statements
    return (end - start) - sum(1 for i in block.skip if start <= i < end)


def _refuse_changed_values(cur: Any, table: Any) -> None:
    """Raise ChangedValue when the statement just run left a data warning: never stored silently, the
    row path then finds the row and names it."""
    changed = data_warnings(cur, lambda: table.generated)
    if changed:
        raise ChangedValue(f"({changed[0][0]}) {changed[0][1]}")


def _changed_values_error(block: Any, start: int, end: int, exc: ChangedValue) -> LoadError:
    return LoadError(
        f"initial load of {block.schema}.{block.table}: the target changed a value of rows "
        f"{start}..{end}: {exc}",
        retryable=False,
    )


class _Refused(Exception):
    """The target does not allow LOCAL INFILE."""


def _takes_infile(loader: Any, conn: Any, block: Any) -> bool:
    """LOAD DATA for this block: allowed by the target option ``bulk_load_data`` (default true) and the
    server, and the target table has no trigger (REPLACE would fire its DELETE triggers on a replay)."""
    if loader._infile_refused:
        return False
    option = str((loader.target.options or {}).get("bulk_load_data", True)).lower()
    if option in ("false", "0", "no", "off"):
        return False
    known = loader._infile_tables
    name = (block.schema, block.table)
    if name not in known:
        known[name] = not bulk_infile.has_triggers(conn, *name)
        conn.commit()
    return known[name]


def _load_infile(loader: Any, block: Any, table: Any, start: int, end: int, slot: int) -> int:
    """Rows ``start``..``end`` of ``block`` as one ``LOAD DATA LOCAL INFILE … REPLACE`` in one transaction on
    the loader's LOCAL INFILE connection ``slot``."""
    packed = block.packed
    sql_rows: Any = SQL_ROWS
    _, offset, row = sql_rows(packed.raw, packed.lits, 0, 0, start, -1, None)
    text, _, _ = sql_rows(packed.raw, packed.lits, offset, row, end, 1 << 62, block.skip or None, True)
    try:
        conn = bulk_infile.connection(loader, slot)
        with conn.cursor() as cur:
            if loader._fence is not None:
                fencing.check(cur, loader._label, *loader._fence)
            if text:
                conn.otter_infile = text
                try:
                    cur.execute(bulk_infile.statement(block.schema, block.table, block.columns, packed.lits))
                finally:
                    conn.otter_infile = b""
                _refuse_changed_values(cur, table)
        conn.commit()
    except ChangedValue as exc:
        bulk_infile.discard(loader, slot)
        raise _changed_values_error(block, start, end, exc) from exc
    except Exception as exc:
        bulk_infile.discard(loader, slot)
        if error_code(exc) in bulk_infile.REFUSED:
            raise _Refused(server_message(exc)) from exc
        raise LoadError(
            f"initial load of {block.schema}.{block.table}: a chunk's LOAD DATA failed at rows "
            f"{start}..{end}: {server_message(exc)}",
            **error_kwargs(exc),
        ) from exc
    loader._statements[slot] += 1
    return (end - start) - sum(1 for i in block.skip if start <= i < end)

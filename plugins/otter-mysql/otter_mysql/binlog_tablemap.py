"""Table_map events parsed by otter's own binlog reader (``binlog_reader``).

A Table_map event names a table and describes its columns (type and type metadata) for the rows events
after it. ``RowCodec`` and the compiled decoder read these columns through the same attributes as
mysql-replication's ``Column`` (``type``, ``max_length``, ``length_size``, ``precision``, ``decimals``,
``fsp``, ``bytes``, ``size``, ``name``), so both readers feed one decoder. Column names are taken only
from the event's own optional metadata (``binlog_row_metadata=FULL``); without it they are None and the
schema history decides the layout.
"""

from __future__ import annotations

from typing import Any

from otter_mysql import field_types as T

_ONE_BYTE = {T.DOUBLE, T.FLOAT, T.TIMESTAMP2, T.DATETIME2, T.TIME2, T.BLOB, T.GEOMETRY, T.JSON}
_COLUMN_NAME = 4  # optional metadata field: the column names


class BinlogColumn:
    """One column of a Table_map event (picklable: the runner rebuilds decoders from it)."""

    def __init__(self, type: int, **meta: Any) -> None:
        self.type = type
        self.name: str | None = None
        self.__dict__.update(meta)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BinlogColumn) and self.__dict__ == other.__dict__

    def __repr__(self) -> str:
        return f"BinlogColumn({self.__dict__})"


class TableInfo:
    """What a Table_map event says: the table id, the schema and table names and the columns."""

    __slots__ = ("table_id", "schema", "table", "columns")

    def __init__(self, table_id: int, schema: str, table: str, columns: list[BinlogColumn]) -> None:
        self.table_id = table_id
        self.schema = schema
        self.table = table
        self.columns = columns


def lenenc(data: bytes, p: int) -> tuple[int, int]:
    """A length-encoded integer at ``p``: (value, offset after it)."""
    first = data[p]
    if first < 251:
        return first, p + 1
    if first == 0xFC:
        return int.from_bytes(data[p + 1 : p + 3], "little"), p + 3
    if first == 0xFD:
        return int.from_bytes(data[p + 1 : p + 4], "little"), p + 4
    return int.from_bytes(data[p + 1 : p + 9], "little"), p + 9


def _column(kind: int, meta: bytes, p: int) -> tuple[BinlogColumn, int]:
    """The column of binlog type ``kind`` whose metadata starts at ``meta[p]`` (mysql-replication's
    reading of the same bytes: VARCHAR 2 bytes little-endian, STRING/ENUM/SET 2 bytes high first...)."""
    if kind == T.VARCHAR:
        return BinlogColumn(kind, max_length=meta[p] | meta[p + 1] << 8), p + 2
    if kind in _ONE_BYTE:
        key = {T.DOUBLE: "size", T.FLOAT: "size", T.TIMESTAMP2: "fsp", T.DATETIME2: "fsp", T.TIME2: "fsp"}
        return BinlogColumn(kind, **{key.get(kind, "length_size"): meta[p]}), p + 1
    if kind in (T.VAR_STRING, T.STRING):
        value = meta[p] << 8 | meta[p + 1]
        real = value >> 8
        if real in (T.SET, T.ENUM):
            return BinlogColumn(real, size=value & 0xFF), p + 2
        return BinlogColumn(kind, max_length=(((value >> 4) & 0x300) ^ 0x300) + (value & 0xFF)), p + 2
    if kind == T.NEWDECIMAL:
        return BinlogColumn(kind, precision=meta[p], decimals=meta[p + 1]), p + 2
    if kind == T.BIT:
        bits = meta[p + 1] * 8 + meta[p]
        return BinlogColumn(kind, bits=bits, bytes=(bits + 7) // 8), p + 2
    return BinlogColumn(kind), p


def parse_table_map(data: bytes, start: int, end: int) -> TableInfo:
    """The Table_map event whose body is ``data[start:end]`` (checksum excluded)."""
    table_id = int.from_bytes(data[start : start + 6], "little")
    p = start + 8  # table id (6), flags (2)
    n = data[p]
    schema = data[p + 1 : p + 1 + n].decode("utf-8", "replace")
    p += n + 2  # length, name, NUL
    n = data[p]
    table = data[p + 1 : p + 1 + n].decode("utf-8", "replace")
    p += n + 2
    count, p = lenenc(data, p)
    types = data[p : p + count]
    p += count
    meta_len, p = lenenc(data, p)
    columns = []
    q = p
    for kind in types:
        col, q = _column(kind, data, q)
        columns.append(col)
    p += meta_len + (count + 7) // 8  # metadata, NULL bitmap
    while p < end:  # optional metadata (MySQL 8.0.1+, MariaDB 10.5+): type, length, value
        field = data[p]
        length, p = lenenc(data, p + 1)
        if field == _COLUMN_NAME:
            q, names = p, []
            while q < p + length:
                size, q = lenenc(data, q)
                names.append(data[q : q + size].decode("utf-8", "replace"))
                q += size
            if len(names) == count:
                for col, name in zip(columns, names):
                    col.name = name
        p += length
    return TableInfo(table_id, schema, table, columns)

"""Source and target compared row by row, column by column, with a diff that names table, key, column.

Each column is read through its catalogue ``compare`` expression (exact bytes for strings, the stored
FLOAT widened to DOUBLE, GEOMETRY as WKB, JSON normalised, temporal values as text), the key columns
as binary too, so two rows are equal only when every stored value is.
"""

from __future__ import annotations

from typing import Any

from tests.correctness.catalogue import COLUMNS, KeyShape


def _select(schema: str, key: KeyShape, table: str) -> tuple[str, list[str]]:
    names = [n for n, _ in key.columns]
    exprs = [f"CAST(`{n}` AS BINARY)" for n in names] + [f"`{n}`" for n in names]
    exprs += [c.compare.format(c=f"`{c.name}`") for c in COLUMNS]
    order = ", ".join(f"`{n}`" for n in names)
    sql = f"SELECT {', '.join(exprs)} FROM `{schema}`.`{table}` ORDER BY {order}"
    return sql, [c.name for c in COLUMNS]


def snapshot(server: Any, schema: str, key: KeyShape, table: str = "t") -> dict[tuple, tuple]:
    """``{key (as bytes): (key as typed, column values)}`` of every row of ``schema.table``."""
    sql, _ = _select(schema, key, table)
    width = len(key.columns)
    return {
        tuple(row[:width]): (tuple(row[width : 2 * width]), tuple(row[2 * width :]))
        for row in server.execute(sql)
    }


def _show(value: Any, limit: int = 60) -> str:
    text = repr(value)
    if len(text) > limit:
        size = len(value) if isinstance(value, (str, bytes)) else "?"
        text = f"{text[:limit]}… ({size} long)"
    return text


def diff_rows(
    source: dict[tuple, tuple], target: dict[tuple, tuple], table: str, limit: int = 25
) -> list[str]:
    """Readable differences (keys shown as typed), at most ``limit`` lines (then a count of the rest);
    [] when equal."""
    names = [c.name for c in COLUMNS]
    lines = []
    for key in sorted(set(source) | set(target), key=repr):
        src, dst = source.get(key), target.get(key)
        shown = (src or dst)[0]
        if dst is None:
            lines.append(f"{table} key {shown}: missing on the target")
        elif src is None:
            lines.append(f"{table} key {shown}: on the target only (not on the source)")
        else:
            for name, a, b in zip(names, src[1], dst[1], strict=True):
                if a != b:
                    lines.append(f"{table} key {shown} column {name}: source {_show(a)} target {_show(b)}")
    if len(lines) > limit:
        lines = lines[:limit] + [f"… and {len(lines) - limit} more differences"]
    return lines


def compare(
    source: Any, target: Any, schema: str, key: KeyShape, tables: tuple[str, ...] = ("t",)
) -> list[str]:
    """The differences of every table of ``tables`` (see ``diff_rows``); [] when all are equal."""
    return [
        line
        for table in tables
        for line in diff_rows(
            snapshot(source, schema, key, table), snapshot(target, schema, key, table), f"{schema}.{table}"
        )
    ]

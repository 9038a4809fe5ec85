"""Start-up checks of a binlog source and resolution of where to start reading."""

from __future__ import annotations

import re
from typing import Any

import pymysql

from otter_core.spi import ConfigError, Pipeline, Position, SourceError

_GTID = re.compile(r"^\d+-\d+-\d+(,\d+-\d+-\d+)*$")


def variables(conn: Any) -> dict[str, str]:
    """The global settings the selector depends on (lower-case names)."""
    with conn.cursor() as cur:
        cur.execute(
            "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('log_bin', 'binlog_format', "
            "'binlog_row_image', 'log_bin_compress')"
        )
        return {k.lower(): str(v) for k, v in cur.fetchall()}


def check_server(conn: Any, label: str) -> None:
    """SourceError unless the binlog is on, in ROW format with FULL images, and not compressed."""
    v = variables(conn)
    if v.get("log_bin", "OFF").upper() != "ON":
        raise SourceError(
            f"{label}: binary logging is off (log_bin=OFF); enable it in the server's my.cnf "
            f"(log_bin, server_id, binlog_format=ROW, binlog_row_image=FULL) and restart it",
            retryable=False,
        )
    if v.get("binlog_format", "").upper() != "ROW":
        raise SourceError(
            f"{label}: binlog_format is {v.get('binlog_format')}, not ROW; set binlog_format=ROW "
            f"in my.cnf and SET GLOBAL binlog_format='ROW'",
            retryable=False,
        )
    if v.get("binlog_row_image", "FULL").upper() != "FULL":
        raise SourceError(
            f"{label}: binlog_row_image is {v.get('binlog_row_image')}, not FULL; set "
            f"binlog_row_image=FULL in my.cnf and SET GLOBAL binlog_row_image='FULL'",
            retryable=False,
        )
    if v.get("log_bin_compress", "OFF").upper() == "ON":
        raise SourceError(
            f"{label}: log_bin_compress=ON writes compressed row events this selector cannot "
            f"read; SET GLOBAL log_bin_compress=OFF",
            retryable=False,
        )


def check_file(conn: Any, file: str, label: str) -> None:
    """SourceError when binlog ``file`` is not among the server's binary logs (purged or unknown)."""
    with conn.cursor() as cur:
        cur.execute("SHOW BINARY LOGS")
        names = [row[0] for row in cur.fetchall()]
    if file in names:
        return
    gone = "was purged" if names and (len(file), file) < (len(names[0]), names[0]) else "does not exist"
    raise SourceError(
        f"{label}: binlog file {file} {gone}; set the pipeline's position with `otter-run position set "
        f"PIPELINE.yaml --current` (or --file/--pos, --gtid, --time) or restore the "
        f"binlog files, then resync the tables (the server has {names[0] if names else 'none'} .. "
        f"{names[-1] if names else 'none'})",
        retryable=False,
    )


def master_status(conn: Any, label: str) -> tuple[str, int]:
    """The current binlog file and position (SHOW MASTER STATUS, or MySQL 8.4's new name)."""
    with conn.cursor() as cur:
        try:
            cur.execute("SHOW MASTER STATUS")
        except pymysql.err.ProgrammingError:
            cur.execute("SHOW BINARY LOG STATUS")
        row = cur.fetchone()
    if not row:
        raise SourceError(
            f"{label}: SHOW MASTER STATUS is empty; enable log_bin on the server", retryable=False
        )
    return row[0], int(row[1])


def start_point(conn: Any, position: Position | None, pipeline: Pipeline, label: str) -> dict[str, Any]:
    """Where to start: ``{"log_file", "log_pos"}`` or ``{"gtid"}``, from ``position`` when given, else
    from the pipeline's ``start`` (current / position / gtid)."""
    if position is not None and position.file:
        return {"log_file": position.file, "log_pos": int(position.pos or 4)}
    if position is not None and position.gtid:
        point: dict[str, Any] = {"gtid": position.gtid}
    else:
        start = dict(pipeline.start or {})
        kind = str(getattr(start.get("kind"), "value", start.get("kind") or "current")).lower()
        if kind == "current":
            file, pos = master_status(conn, label)
            return {"log_file": file, "log_pos": pos}
        if kind == "position":
            if not start.get("file"):
                raise ConfigError(f"pipeline {pipeline.name}: start kind position needs 'file' and 'pos'")
            return {"log_file": str(start["file"]), "log_pos": int(start.get("pos") or 4)}
        if kind != "gtid":
            raise ConfigError(
                f"pipeline {pipeline.name}: unknown start kind {kind!r} (use current, position or gtid)"
            )
        point = {"gtid": str(start.get("gtid", "")).replace(" ", "")}
    if not _GTID.match(point["gtid"]):
        raise ConfigError(
            f"pipeline {pipeline.name}: GTID {point['gtid']!r} is not a MariaDB GTID position like 0-1-100"
        )
    return point


_CASCADES_SQL = (
    "SELECT CONSTRAINT_SCHEMA, TABLE_NAME, CONSTRAINT_NAME, UNIQUE_CONSTRAINT_SCHEMA, REFERENCED_TABLE_NAME, "
    "DELETE_RULE, UPDATE_RULE FROM information_schema.REFERENTIAL_CONSTRAINTS "
    "WHERE (DELETE_RULE IN ('CASCADE', 'SET NULL', 'SET DEFAULT') OR UPDATE_RULE IN ('CASCADE', 'SET NULL', "
    "'SET DEFAULT')) ORDER BY CONSTRAINT_SCHEMA, TABLE_NAME, CONSTRAINT_NAME"
)


def check_fk_cascades(conn: Any, matched: set[tuple[str, str]], pipeline: Pipeline, label: str) -> None:
    """SourceError when a synced table is the parent of a cascading foreign key whose child table is
    synced too: the server writes only the parent's row change to the binlog, never the children's
    cascaded deletes or updates, so the target's child rows would silently keep their old values."""
    if pipeline.parameters.allow_fk_cascades or not matched:
        return
    with conn.cursor() as cur:
        cur.execute(_CASCADES_SQL)
        rows = cur.fetchall()
    for schema, child, name, parent_schema, parent, on_delete, on_update in rows:
        if (schema, child) in matched and (parent_schema, parent) in matched:
            raise SourceError(
                f"{label}: foreign key {name} of {schema}.{child} references {parent_schema}.{parent} with "
                f"ON DELETE {on_delete} ON UPDATE {on_update}, and pipeline {pipeline.name} syncs both tables. "
                f"The binlog holds only the parent's change, not the rows the cascade changes in {child}, so "
                f"the target would keep them. Make the application change the child rows itself (ON DELETE "
                f"RESTRICT / NO ACTION), or set the pipeline parameter allow_fk_cascades: true to sync anyway "
                f"and accept that cascaded changes are not synced",
                retryable=False,
            )

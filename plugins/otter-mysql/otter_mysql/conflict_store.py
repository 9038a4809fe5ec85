"""The conflict log of a MySQL/MariaDB target (``retl.retl_conflict``) behind the core's ``ConflictStore``:
what ``otter-run conflicts`` and the manager list, show and resolve (hook ``otter_conflict_store``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pymysql

from otter_core.spi import DataMediaSource, LoadError
from otter_mysql import conflict_log, mysql_connect

NO_LOG_YET = (1049, 1146)  # no retl schema / table yet: no conflict so far


def _connect(source: DataMediaSource) -> Any:
    try:
        conn = mysql_connect.connect(
            host=source.host,
            port=int(source.port),
            user=source.user,
            password=source.password,
            charset="utf8mb4",
            autocommit=False,
            connect_timeout=10,
        )
    except pymysql.Error as exc:
        raise LoadError(
            f"cannot connect to {source.name} ({source.host}:{source.port} as {source.user}): "
            f"{exc.args[-1] if exc.args else exc}"
        ) from None
    with conn.cursor() as cur:
        cur.execute("SET SESSION time_zone='+00:00', sql_mode='NO_AUTO_VALUE_ON_ZERO', foreign_key_checks=0")
        cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")  # row locks only, as the loader
    return conn


def record(row: Mapping[str, Any]) -> dict[str, Any]:
    """A ``retl_conflict`` row as the fields of ``otter_core.conflicts.ConflictRecord`` (own numbers)."""
    return {
        "id": row["id"],
        "channel": row["channel"],
        "pipeline": row["pipeline"],
        "schema": row["schema_name"],
        "table": row["table_name"],
        "key": json.loads(row["pk"]),
        "kind": row["kind"],
        "event_type": row["event_type"],
        "policy": row["policy"],
        "outcome": row["outcome"],
        "status": row["status"],
        "source_image": conflict_log.from_json(row["source_image"]),
        "source_before": conflict_log.from_json(row["source_before"]),
        "target_image": conflict_log.from_json(row["target_image"]),
        "position": row["position"],
        "detected_at": row["detected_at"],
        "resolved_at": row["resolved_at"],
        "resolved_by": row["resolved_by"],
        "resolution": json.loads(row["resolution"]) if row.get("resolution") else None,
        "parent_id": row.get("parent_id") or None,
    }


class MySQLConflictStore:
    """One connection to the target, opened at once (a refused connection is a ``LoadError``)."""

    def __init__(self, target: DataMediaSource) -> None:
        self.conn = _connect(target)

    def _fetch(self, where: str, args: tuple, limit: int | None = None) -> list[dict[str, Any]]:
        try:
            with self.conn.cursor() as cur:
                return [record(row) for row in conflict_log.fetch(cur, where, args, limit=limit)]
        except pymysql.err.ProgrammingError as exc:
            if exc.args and exc.args[0] in NO_LOG_YET:
                return []
            raise

    def list(
        self, channel: str | None, pipeline: str | None, status: str | None, limit: int
    ) -> list[dict[str, Any]]:
        where, args = ["1"], []
        for column, value in (("channel", channel), ("pipeline", pipeline), ("status", status)):
            if value is not None:
                where.append(f"{column} = %s")
                args.append(value)
        return self._fetch(" AND ".join(where), tuple(args), limit)

    def get(self, number: int) -> dict[str, Any] | None:
        found = self._fetch("id = %s", (number,))
        return found[0] if found else None

    def resolve(self, number: int, action: str, image: Mapping[str, Any] | None, by: str) -> dict[str, Any]:
        rows = conflict_log.resolve(self.conn, number, action, image, by)
        return record(min(rows, key=lambda r: r["id"]))

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

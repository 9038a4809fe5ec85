"""The conflict log as an API: list, show and resolve the conflicts pipelines detected (manager, CLI).

Conflicts live in ``retl.retl_conflict`` on each pipeline's target (MySQL/MariaDB, plugin otter-mysql);
an id is ``TARGET:N``: the name of the target in the YAML's ``sources`` and the row id there.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator, Mapping
from typing import Any

import attrs
from attrs import frozen

from otter_core.errors import ConfigError, LoadError
from otter_core.model import DataMediaSource, OtterConfig


@frozen
class ConflictRecord:
    """One detected conflict (see docs/configuration.md "Conflicts" for kinds and outcomes)."""

    id: str
    channel: str
    pipeline: str
    schema: str
    table: str
    key: dict
    kind: str
    event_type: str
    policy: str
    outcome: str
    status: str
    source_image: dict | None
    source_before: dict | None
    target_image: dict | None
    position: str
    detected_at: datetime.datetime | None
    resolved_at: datetime.datetime | None = None
    resolved_by: str | None = None
    resolution: Any = None
    parent_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = attrs.asdict(self)
        for name in ("detected_at", "resolved_at"):
            out[name] = out[name].isoformat(" ") if out[name] else None
        return out


def _targets(
    config: OtterConfig, channel: str | None = None, pipeline: str | None = None
) -> dict[str, DataMediaSource]:
    """The target sources of the pipelines that detect conflicts (optionally of one channel/pipeline)."""
    found: dict[str, DataMediaSource] = {}
    for ch in config.channels:
        if channel is not None and ch.name != channel:
            continue
        for pipe in ch.pipelines:
            if pipeline is not None and pipe.name != pipeline:
                continue
            if pipe.detects_conflicts:
                found[pipe.target] = config.sources[pipe.target]
    return found


def _connect(source: DataMediaSource) -> Any:
    import pymysql

    from otter_core import mysql_connect

    if source.type not in ("mysql", "mariadb"):
        raise ConfigError(f"source {source.name}: the conflict log is kept on mysql/mariadb targets only")
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


def _record(target: str, row: Mapping[str, Any]) -> ConflictRecord:
    from otter_mysql.conflict_log import from_json

    resolution = json.loads(row["resolution"]) if row.get("resolution") else None
    return ConflictRecord(
        id=f"{target}:{row['id']}",
        channel=row["channel"],
        pipeline=row["pipeline"],
        schema=row["schema_name"],
        table=row["table_name"],
        key=json.loads(row["pk"]),
        kind=row["kind"],
        event_type=row["event_type"],
        policy=row["policy"],
        outcome=row["outcome"],
        status=row["status"],
        source_image=from_json(row["source_image"]),
        source_before=from_json(row["source_before"]),
        target_image=from_json(row["target_image"]),
        position=row["position"],
        detected_at=row["detected_at"],
        resolved_at=row["resolved_at"],
        resolved_by=row["resolved_by"],
        resolution=resolution,
        parent_id=f"{target}:{row['parent_id']}" if row.get("parent_id") else None,
    )


def _split_id(config: OtterConfig, conflict_id: str) -> tuple[str, int]:
    target, _, number = str(conflict_id).rpartition(":")
    if not target or not number.isdigit():
        raise ConfigError(
            f"conflict id {conflict_id!r}: expected TARGET:N, e.g. b:17 (see `otter-run conflicts list`)"
        )
    if target not in config.sources:
        raise ConfigError(
            f"conflict id {conflict_id!r}: no source named {target!r} (known: {', '.join(config.sources)})"
        )
    return target, int(number)


def _rows(conn: Any, where: str, args: tuple, limit: int | None = None) -> Iterator[dict]:
    import pymysql

    from otter_mysql import conflict_log

    try:
        with conn.cursor() as cur:
            yield from conflict_log.fetch(cur, where, args, limit=limit)
    except pymysql.err.ProgrammingError as exc:
        if exc.args and exc.args[0] in (1049, 1146):  # no retl schema / table yet: no conflict so far
            return
        raise


def list_conflicts(
    config: OtterConfig,
    *,
    channel: str | None = None,
    pipeline: str | None = None,
    status: str | None = None,
    limit: int = 100,
) -> list[ConflictRecord]:
    """Conflicts of the file's pipelines (newest first), optionally of one channel/pipeline/status."""
    out: list[ConflictRecord] = []
    for name, source in _targets(config, channel, pipeline).items():
        where, args = ["1"], []
        for column, value in (("channel", channel), ("pipeline", pipeline), ("status", status)):
            if value is not None:
                where.append(f"{column} = %s")
                args.append(value)
        conn = _connect(source)
        try:
            out.extend(_record(name, row) for row in _rows(conn, " AND ".join(where), tuple(args), limit))
        finally:
            conn.close()
    out.sort(key=lambda r: r.detected_at or datetime.datetime.min, reverse=True)
    return out[:limit]


def show_conflict(config: OtterConfig, conflict_id: str) -> ConflictRecord:
    """One conflict by id (``TARGET:N``)."""
    target, number = _split_id(config, conflict_id)
    conn = _connect(config.sources[target])
    try:
        rows = list(_rows(conn, "id = %s", (number,)))
    finally:
        conn.close()
    if not rows:
        raise ConfigError(f"no conflict {conflict_id} (see `otter-run conflicts list`)")
    return _record(target, rows[0])


def resolve_conflict(
    config: OtterConfig, conflict_id: str, action: str, image: dict | None = None, by: str = "operator"
) -> ConflictRecord:
    """Settle a parked conflict: ``source`` applies the parked changes of its key in order, ``target``
    keeps the target's row, ``image`` writes ``image`` (None deletes the row). Written on the target in one
    transaction with the conflict rows; a two-way channel's reverse pipeline carries it to the other side."""
    from otter_mysql import conflict_log

    target, number = _split_id(config, conflict_id)
    conn = _connect(config.sources[target])
    try:
        rows = conflict_log.resolve(conn, number, action, image, by)
    finally:
        conn.close()
    first = min(rows, key=lambda r: r["id"])
    return _record(target, first)

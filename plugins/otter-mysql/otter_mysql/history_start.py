"""Starting the schema history of a pipeline: the saved one, brought up to the start position, or a new
snapshot whose rows older than a DDL it already contains are unknown (``schema_history``)."""

from __future__ import annotations

import logging
from typing import Any

from otter_mysql import ddl
from otter_mysql.ddl_model import TableModel
from otter_mysql.schema_history import Pos, SchemaHistory, where

log = logging.getLogger("otter.select")


_SKIPPED = ("BEGIN", "COMMIT", "ROLLBACK", "XA ", "SAVEPOINT")


def scan_ddl(
    settings: dict[str, Any], server_id: int, point: dict[str, Any], until: Pos, reader: str = "native"
) -> list[tuple]:
    """``(pos, query, default schema)`` of the DDL events from ``point`` up to ``until`` (read once, not
    blocking: the start of a pipeline that is behind). ``reader``: otter's own binlog reader, or
    mysql-replication ("library"), ~10x the CPU on a backlog of small transactions."""
    if reader != "library":
        from otter_mysql import mysql_connect
        from otter_mysql.binlog_reader import NativeReader

        label = f"source {settings.get('host')}:{settings.get('port')} (schema history scan)"
        conn = mysql_connect.connect(**settings)
        try:
            scan = NativeReader(conn, server_id, point, 0, label, non_block=True)
            return [
                (pos, query, default)
                for pos, query, default in scan.queries(until)
                if not query.lstrip()[:9].upper().startswith(_SKIPPED)
            ]
        finally:
            conn.close()
    from pymysqlreplication import BinLogStreamReader
    from pymysqlreplication.event import QueryEvent

    if "gtid" in point:
        kwargs: dict[str, Any] = {"is_mariadb": True, "auto_position": point["gtid"]}
    else:
        kwargs = {"log_file": point["log_file"], "log_pos": point["log_pos"]}
    stream = BinLogStreamReader(
        connection_settings=settings,
        server_id=server_id,
        resume_stream=True,
        blocking=False,
        freeze_schema=True,
        enable_logging=False,
        only_events=[QueryEvent],
        **kwargs,
    )
    found = []
    try:
        for ev in stream:
            pos = (stream.log_file, ev.packet.log_pos)
            if pos > until:
                break
            head = ev.query.lstrip()[:9].upper()
            if head.startswith(_SKIPPED):
                continue
            default = ev.schema.decode("utf-8", "replace") if isinstance(ev.schema, bytes) else ev.schema
            found.append((pos, ev.query, default))
    finally:
        stream.close()
    return found


def reverse_add_column(model: TableModel, text: str, default: str) -> TableModel | None:
    """The model before a single-column ``ALTER TABLE … ADD [COLUMN] c …`` (an exact inverse: the
    column is dropped again), or None for any other statement."""
    from otter_mysql.ddl_model import Cursor, ident, split_commas, tokens

    cur = Cursor(tokens(text), text)
    if not (cur.accept("ALTER", "TABLE") or cur.accept("ALTER", "ONLINE", "TABLE")):
        return None
    cur.accept("IF", "EXISTS")
    cur.take()
    if cur.peek() == "." or cur.peek().startswith("."):
        tok = cur.take()
        if tok == ".":
            cur.take()
    specs = split_commas(cur.toks[cur.i :])
    if len(specs) != 1:
        return None
    spec = Cursor(specs[0], text)
    if not spec.accept("ADD") or spec.word() in (
        "PRIMARY",
        "UNIQUE",
        "INDEX",
        "KEY",
        "CONSTRAINT",
        "FOREIGN",
    ):
        return None
    spec.accept("COLUMN")
    if spec.word() == "IF" or spec.peek() == "(":
        return None
    name = ident(spec.take())
    if not model.has(name):
        return None
    before = model.copy()
    del before.columns[before.position_of(name)]
    before.drop_from_indexes(name)
    return before


def start_history(
    history: SchemaHistory,
    conn: Any,
    settings: dict[str, Any],
    server_id: int,
    point: dict[str, Any],
    schemas: set[str],
    tracked: Any,
    reader: str = "native",
) -> None:
    """Make ``history`` cover the binlog from ``point``: the saved one when it reaches back that far (its
    DDL up to ``point`` applied), else a new snapshot whose rows older than a DDL the snapshot already
    contains are unknown (unless that DDL is an ADD COLUMN, whose inverse is exact)."""
    from otter_mysql.checks import master_status

    start: Pos | None = (point["log_file"], int(point["log_pos"])) if "log_file" in point else None
    if (
        start is not None
        and history.load()
        and history.base is not None
        and history.base <= start
        and schemas <= history.schemas  # a pair added since needs a new snapshot
    ):
        assert history.high is not None
        if history.high < start:
            try:
                ddls = scan_ddl(
                    settings,
                    server_id,
                    {"log_file": history.high[0], "log_pos": history.high[1]},
                    start,
                    reader,
                )
            except Exception as exc:  # e.g. purged: start afresh
                log.warning(
                    "schema history: cannot read the binlog from %s (%s); reading a new snapshot",
                    where(history.high),
                    exc,
                )
            else:
                for pos, text, default in ddls:
                    history.on_ddl(text, default, pos)
                history.prune(start)
                history.save()
                return
        else:
            history.prune(start)
            history.save()
            return
    for _ in range(5):  # the snapshot is exact only if no DDL ran while it was read
        before = master_status(conn, "source")
        history.snapshot(conn, schemas, before)
        after = master_status(conn, "source")
        if before == after:
            break
    at = tuple(after)
    history.base = history.high = at  # type: ignore[assignment]
    ddls = scan_ddl(settings, server_id, point, at, reader) if start != at else []  # type: ignore[arg-type]
    exact: dict[tuple[str, str], bool] = {}
    for pos, text, default in reversed(ddls):
        stmt = ddl.parse(text, default)
        if stmt.kind == "database":
            names = [k for k in history.tables if k[0] == stmt.database]
        else:
            names = [t for t in stmt.tables if t in history.tables or tracked(*t)]
        for schema, table in names:
            if not exact.get((schema, table), True):
                continue  # already unknown before a later DDL
            versions = history.tables.get((schema, table))
            model = versions[0][1] if versions and versions[0][0] is None else None
            versions = versions or []
            previous = (
                reverse_add_column(model, text, default)
                if model and exact.get((schema, table), True)
                else None
            )
            if previous is not None:
                history.tables[(schema, table)] = [(None, previous, None), (pos, model, None)] + versions[1:]
                continue
            exact[(schema, table)] = False
            reason = (
                f"the DDL {text.strip()[:300]!r} at {where(pos)} changed it after these rows and before the "
                f"pipeline started (the table's earlier layout was never read)"
            )
            history.tables[(schema, table)] = [(None, None, reason), (pos, model, None)] + (versions or [])[
                1:
            ]
    history.save()

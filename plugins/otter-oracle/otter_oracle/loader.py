"""The Oracle loader: merged row events applied with MERGE INTO / DELETE by key, one transaction per load.

Events of one statement shape (table, columns, changed columns) run as one ``executemany`` per chunk of
``load_chunk_rows`` rows, with bound values only. MERGE and delete-by-key are idempotent, so a replayed
batch leaves the same rows. With loopback marks on, the ``RETL_MARK`` upsert is the first statement of
the same transaction. MySQL DDL is not translated: the pipeline stops with the statement and the remedy.

Target options (``sources.<name>.options``): ``dsn`` (an Easy Connect string or TNS alias; default
``host:port/service_name``), ``service_name``, ``identifier_case`` (``upper``/``preserve``),
``retl_schema`` (``RETL``), ``load_chunk_rows`` (1000).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from otter_core.spi import DataMediaSource, EventData, EventType, LoadError, Pipeline, SyncMode
from otter_oracle import dialect
from otter_oracle.dialect import Naming
from otter_oracle.types import bind_row, input_sizes

log = logging.getLogger("otter.load.oracle")
DEFAULT_CHUNK_ROWS = 1000
# ORA- codes that a retry cannot heal: invalid identifier, no such table, NULL into NOT NULL, number or
# date text invalid, value too large, precision exceeded, table or view missing for the mark
PERMANENT_ORA = {904, 942, 1400, 1438, 1722, 1840, 1841, 1843, 1847, 1861, 12899}


def import_driver() -> Any:
    try:
        import oracledb
    except ImportError as exc:  # pragma: no cover - install_requires brings it
        raise LoadError(
            f"the Oracle loader needs python-oracledb: `pip install oracledb` ({exc})", retryable=False
        ) from None
    return oracledb


def connect_target(target: DataMediaSource) -> Any:
    """A python-oracledb connection (thin mode) to ``target``; LoadError naming the target."""
    oracledb = import_driver()
    options = target.options or {}
    dsn = options.get("dsn") or f"{target.host}:{target.port}/{options.get('service_name', 'FREEPDB1')}"
    try:
        conn = oracledb.connect(user=target.user, password=target.password, dsn=dsn)
    except oracledb.Error as exc:
        raise LoadError(
            f"cannot connect to Oracle target {target.name} ({dsn} as {target.user}): {exc}; "
            f"check options.dsn / service_name, user and password of {target.name!r}"
        ) from None
    conn.autocommit = False
    return conn


class OracleLoader:
    """``otter_core.contracts.Loader`` for Oracle targets."""

    def __init__(
        self,
        target: DataMediaSource,
        pipeline: Pipeline,
        *,
        connect: Callable[[DataMediaSource], Any] | None = None,
    ) -> None:
        self.target = target
        self.pipeline = pipeline
        options = target.options or {}
        case = str(options.get("identifier_case", "upper"))
        if case not in ("upper", "preserve"):
            raise LoadError(
                f"target {target.name}: options.identifier_case must be upper or preserve, got {case!r}",
                retryable=False,
            )
        self.naming = Naming(case)
        self.retl_schema = str(options.get("retl_schema", dialect.DEFAULT_RETL_SCHEMA))
        self.chunk_rows = max(1, int(options.get("load_chunk_rows") or DEFAULT_CHUNK_ROWS))
        self.field_mode = pipeline.parameters.sync_mode == SyncMode.FIELD
        self.dry_run = pipeline.parameters.dry_run
        self.mark = pipeline.marks_loopback
        self.channel = pipeline.channel or pipeline.name
        self._connect = connect or connect_target
        self._slots: list[Any] = [None] * max(1, pipeline.parameters.load_pool_size)
        self._mark_ready = False
        self._sql_cache: dict[tuple, str] = {}

    # ------------------------------------------------------------------------------------ planning

    def plan(self, events: Sequence[EventData]) -> list[tuple[str, str, list[list[Any]], EventData]]:
        """(kind, sql, rows of bind values, first event) per statement shape: deletes first."""
        deletes: dict[tuple, tuple[str, list, EventData]] = {}
        upserts: dict[tuple, tuple[str, list, EventData]] = {}
        for ev in events:
            if ev.event_type is EventType.DELETE:
                if not ev.keys:
                    raise LoadError(
                        f"{ev.describe()}: DELETE without key columns cannot be applied; "
                        "give the table a primary key",
                        retryable=False,
                    )
                shape: tuple = (ev.schema, ev.table, tuple(ev.keys))
                groups, values = deletes, list(ev.keys.values())
            elif ev.event_type in (EventType.INSERT, EventType.UPDATE):
                if not ev.keys:
                    raise LoadError(
                        f"{ev.describe()}: a row without key columns cannot be merged; "
                        "give the table a primary key",
                        retryable=False,
                    )
                changed = (
                    tuple(sorted(ev.updated))
                    if self.field_mode and ev.event_type is EventType.UPDATE
                    else None
                )
                shape = (ev.schema, ev.table, tuple(ev.keys), tuple(ev.columns), changed)
                groups, values = upserts, [*ev.keys.values(), *ev.columns.values()]
            else:
                raise LoadError(f"{ev.describe()}: a {ev.event_type.name} event cannot be loaded as a row")
            group = groups.get(shape)
            if group is None:
                group = groups[shape] = (self._sql(shape, ev.event_type is EventType.DELETE), [], ev)
            try:
                group[1].append(bind_row(values))
            except LoadError:
                raise
            except Exception as exc:
                raise LoadError(
                    f"target {self.target.name}: {ev.describe()} cannot be bound: {exc}", retryable=False
                ) from None
        return [("DELETE", sql, rows, first) for sql, rows, first in deletes.values()] + [
            ("MERGE", sql, rows, first) for sql, rows, first in upserts.values()
        ]

    def _sql(self, shape: tuple, is_delete: bool) -> str:
        sql = self._sql_cache.get(shape)
        if sql is None:
            if is_delete:
                sql = dialect.delete_sql(self.naming, shape[0], shape[1], shape[2])
            else:
                schema, table, keys, columns, changed = shape
                update = None if changed is None else [c for c in columns if c in set(changed)]
                sql = dialect.merge_sql(self.naming, schema, table, [*keys, *columns], keys, update)
            self._sql_cache[shape] = sql
        return sql

    # ------------------------------------------------------------------------------------ applying

    def load(self, events: Sequence[EventData], slot: int) -> int:
        """Apply ``events`` in one transaction on connection ``slot``; return the rows applied."""
        if not events:
            return 0
        statements = self.plan(events)
        if self.dry_run:
            for kind, sql, rows, first in statements:
                log.info(
                    "dry run: would %s %d row(s) on %s, first %s: %s",
                    kind,
                    len(rows),
                    self.target.name,
                    first.describe(),
                    sql,
                )
            return 0
        conn = self._slot(slot)
        # what the error names if a statement fails: the mark, then each statement as it is sent
        failing: tuple[str, EventData | None] = ("MARK", None)
        try:
            cursor = conn.cursor()
            if self.mark:
                self._ensure_mark_table(conn)
                cursor.execute(
                    dialect.mark_sql(self.retl_schema),
                    [
                        dialect.mark_id(self.channel, self.pipeline.name, slot),
                        self.channel,
                        self.pipeline.name[:128],
                    ],
                )
            rows_done = 0
            for kind, sql, rows, first in statements:
                failing = (kind, first)
                for start in range(0, len(rows), self.chunk_rows):
                    chunk = rows[start : start + self.chunk_rows]
                    self._set_input_sizes(cursor, chunk)
                    cursor.executemany(sql, chunk)
                    rows_done += len(chunk)
            conn.commit()
            return rows_done
        except Exception as exc:
            self._rollback(slot)
            if isinstance(exc, LoadError):
                raise
            raise self._error(*failing, exc) from None

    def _set_input_sizes(self, cursor: Any, chunk: list[list[Any]]) -> None:
        sizes = input_sizes(chunk)
        if sizes is None:
            cursor.setinputsizes()
            return
        oracledb = import_driver()
        types = {"CLOB": oracledb.DB_TYPE_CLOB, "BLOB": oracledb.DB_TYPE_BLOB}
        cursor.setinputsizes(*[types[s] if s else None for s in sizes])

    def _error(self, kind: str, first: EventData | None, exc: Exception) -> LoadError:
        code = _ora_code(exc)
        where = f"{kind} into {first.full_name}, chunk starting at {first.describe()}" if first else kind
        remedy = {
            942: "create the table (or fix the pair's target name / options.identifier_case)",
            904: "add the column on Oracle or map/exclude it in the pair",
            1400: "Oracle stores '' as NULL: allow NULL in that column or map the value",
            12899: "widen the Oracle column (VARCHAR2 lengths count CHAR or BYTE)",
        }.get(code or 0, "")
        message = f"target {self.target.name}: {where} failed, rolled back: {exc}"
        return LoadError(message + (f"; {remedy}" if remedy else ""), retryable=code not in PERMANENT_ORA)

    def apply_ddl(self, event: EventData) -> None:
        """MySQL DDL is not translated to Oracle: stop with the statement and the remedy."""
        raise LoadError(
            f"target {self.target.name} is Oracle: MySQL DDL on {event.full_name} at {event.position} is not "
            f"translated ({(event.ddl_sql or '')[:300]!r}); apply the equivalent Oracle DDL by hand "
            "(otter_oracle.types.create_table_sql maps MySQL column types) and set `skip_ddl: true` in the "
            "pipeline's parameters",
            retryable=False,
        )

    # ------------------------------------------------------------------------------------ connections

    def _slot(self, slot: int) -> Any:
        if not 0 <= slot < len(self._slots):
            raise ValueError(f"slot {slot} outside 0..{len(self._slots) - 1} (load_pool_size)")
        if self._slots[slot] is None:
            self._slots[slot] = self._connect(self.target)
        return self._slots[slot]

    def _ensure_mark_table(self, conn: Any) -> None:
        if self._mark_ready:
            return
        cursor = conn.cursor()
        cursor.execute(dialect.mark_table_exists_sql(), [self.retl_schema, dialect.MARK_TABLE])
        (count,) = cursor.fetchone()
        if not count:
            try:
                cursor.execute(dialect.mark_table_ddl(self.retl_schema))
            except Exception as exc:
                raise LoadError(
                    f"target {self.target.name}: the loopback mark table {self.retl_schema}.{dialect.MARK_TABLE} "
                    f"is missing and cannot be created ({exc}); as a DBA run: "
                    f"{dialect.mark_table_ddl(self.retl_schema)}",
                    retryable=False,
                ) from None
        self._mark_ready = True

    def _rollback(self, slot: int) -> None:
        conn = self._slots[slot]
        if conn is None:
            return
        try:
            conn.rollback()
        except Exception:  # a broken connection: open a new one next time
            self._close(slot)

    def _close(self, slot: int) -> None:
        conn, self._slots[slot] = self._slots[slot], None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                log.debug("closing an Oracle connection failed", exc_info=True)

    def close(self) -> None:
        """Close every pooled connection; safe to call twice."""
        for slot in range(len(self._slots)):
            self._close(slot)


def _ora_code(exc: BaseException) -> int | None:
    error = exc.args[0] if getattr(exc, "args", None) else None
    code = getattr(error, "code", None)
    return code if isinstance(code, int) else None

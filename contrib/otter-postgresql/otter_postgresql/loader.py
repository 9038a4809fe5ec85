"""The PostgreSQL loader: merged row events applied idempotently, one transaction per ``load`` call.

Upserts are ``INSERT … ON CONFLICT (key) DO UPDATE`` (multi-row, bound parameters); a large group of
full rows goes by ``COPY`` into a session temp table shaped like the target and then through the same
``INSERT … SELECT … ON CONFLICT``, so bulk loads stay idempotent. Deletes are ``DELETE … WHERE key IN``.
With loopback marks on, ``retl.retl_mark`` is upserted first in the same transaction. Values are adapted
to each target column's type (read from the catalog); MySQL DDL is translated (``ddl.py``) or refused.

Target options (``sources.<name>.options``): ``database`` (default ``postgres``), ``copy_min_rows``
(500; 0 turns COPY off), ``load_chunk_rows`` (1000), ``zero_dates`` (``error`` or ``null``),
``sslmode``, ``connect_timeout``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from otter_core.spi import DataError, DataMediaSource, EventData, EventType, LoadError, Pipeline, SyncMode
from otter_postgresql import dialect, fencing
from otter_postgresql.ddl import Untranslatable, translate
from otter_postgresql.groups import Group, TargetTable
from otter_postgresql.server_errors import error_kwargs
from otter_postgresql.types import adapter_for
from otter_postgresql.unique_holders import clear_unique_conflicts

log = logging.getLogger("otter.load.postgresql")
DEFAULT_COPY_MIN_ROWS = 500
DEFAULT_CHUNK_ROWS = 1000
# SQLSTATEs a replayed DDL gives when it already ran: duplicate table/column/schema/object, undefined table/column
DDL_ALREADY_APPLIED = {"42P07", "42701", "42P06", "42710", "42P01", "42703", "3F000"}


class PostgreSQLLoader:
    """``otter_core.contracts.Loader`` for PostgreSQL targets (psycopg 3)."""

    def __init__(self, target: DataMediaSource, pipeline: Pipeline) -> None:
        self.target = target
        self.pipeline = pipeline
        opts = target.options or {}
        self.database = str(opts.get("database", "postgres"))
        self.copy_min_rows = int(opts.get("copy_min_rows", DEFAULT_COPY_MIN_ROWS))
        self.chunk_rows = max(1, int(opts.get("load_chunk_rows") or DEFAULT_CHUNK_ROWS))
        self.zero_dates = str(opts.get("zero_dates", "error"))
        if self.zero_dates not in ("error", "null"):
            raise LoadError(
                f"target {target.name}: options.zero_dates must be error or null, got {self.zero_dates!r}",
                retryable=False,
            )
        params = pipeline.parameters
        self.field_mode = params.sync_mode == SyncMode.FIELD
        self.dry_run = params.dry_run
        self.mark = pipeline.marks_loopback
        self.channel = pipeline.channel or pipeline.name
        self._slots: list[Any] = [None] * max(1, params.load_pool_size)
        self._stages: list[set[str]] = [set() for _ in self._slots]
        self._tables: dict[tuple[str, str], TargetTable] = {}
        self._mark_ready = False
        self._fence: tuple[str, int] | None = None  # ZooKeeper mode: (pipeline, fencing token), see fence()

    # ------------------------------------------------------------------------------------ connections

    def _connect(self) -> Any:
        import psycopg

        t, opts = self.target, self.target.options or {}
        extra = {k: opts[k] for k in ("sslmode", "sslrootcert", "sslcert", "sslkey") if k in opts}
        try:
            conn = psycopg.connect(
                host=t.host,
                port=t.port,
                user=t.user,
                password=t.password,
                dbname=self.database,
                autocommit=False,
                connect_timeout=int(opts.get("connect_timeout", 10)),
                application_name=f"otter {self.channel}/{self.pipeline.name}",
                **extra,
            )
        except psycopg.Error as exc:
            raise LoadError(
                f"cannot connect to PostgreSQL target {t.name} ({t.host}:{t.port}/{self.database} as "
                f"{t.user}): {str(exc).strip()}; check host, port, user, password and "
                f"options.database of {t.name!r}",
                **error_kwargs(exc),
            ) from None
        conn.execute("SET TIME ZONE 'UTC'")
        conn.commit()
        return conn

    def _slot(self, slot: int) -> Any:
        if not 0 <= slot < len(self._slots):
            raise ValueError(f"slot {slot} outside 0..{len(self._slots) - 1} (load_pool_size)")
        if self._slots[slot] is None or self._slots[slot].closed:
            self._slots[slot] = self._connect()
            self._stages[slot] = set()
        return self._slots[slot]

    def fence(self, pipeline: str, token: int) -> None:
        """Take ``pipeline``'s loads over with fencing ``token`` (otter_postgresql.fencing); from now on every
        transaction checks it first."""
        conn = self._connect()
        try:
            fencing.take_over(conn, self._label, pipeline, token)
        finally:
            conn.close()
        self._fence = (pipeline, token)

    @property
    def _label(self) -> str:
        return f"target {self.target.name} ({self.target.host}:{self.target.port}/{self.database})"

    def close(self) -> None:
        """Close every pooled connection; safe to call twice."""
        for i, conn in enumerate(self._slots):
            if conn is not None:
                try:
                    conn.close()
                except Exception:
                    log.debug("closing a PostgreSQL connection failed", exc_info=True)
                self._slots[i] = None

    # ------------------------------------------------------------------------------------ target tables

    def _table(self, conn: Any, schema: str, table: str, refresh: bool = False) -> TargetTable:
        key = (schema, table)
        if refresh or key not in self._tables:
            rows = conn.execute(dialect.TARGET_COLUMNS_SQL, (schema, table)).fetchall()
            conn.commit()
            unique = tuple(
                (name, tuple(cols))
                for name, cols in conn.execute(dialect.TARGET_UNIQUE_SQL, (schema, table)).fetchall()
            )
            conn.commit()
            self._tables[key] = TargetTable(
                bool(rows),
                {n: adapter_for(t, mod, self.zero_dates) for n, t, mod, _ in rows},
                frozenset(n for n, _, _, gen in rows if gen),
                unique,
            )
        return self._tables[key]

    def _check(self, conn: Any, ev: EventData, columns: Sequence[str]) -> TargetTable:
        for refresh in (False, True):
            info = self._table(conn, ev.schema, ev.table, refresh)
            missing = [c for c in columns if c not in info.adapters]
            if not missing:
                return info
        name = dialect.quote_table(ev.schema, ev.table)
        if not info.exists:
            raise LoadError(
                f"target table {name} does not exist on {self.target.name}: create it (or replicate "
                f"its CREATE TABLE) or fix the pair's target name"
            )
        raise LoadError(
            f"target table {name} has no column {', '.join(map(dialect.quote_ident, missing))} "
            f"(needed by {ev.describe()}): add the column or map/exclude it in the pair"
        )

    # ------------------------------------------------------------------------------------ planning

    def plan(self, events: Sequence[EventData], conn: Any | None) -> list[Group]:
        """Group events by statement shape, values adapted to the target columns: deletes first."""
        deletes: dict[tuple, Group] = {}
        upserts: dict[tuple, Group] = {}
        for ev in events:
            if not ev.keys:
                raise LoadError(
                    f"{ev.describe()}: a row without key columns cannot be applied idempotently; "
                    "give the table a primary key",
                    retryable=False,
                )
            if ev.event_type is EventType.DELETE:
                shape: tuple
                shape, groups, values = (
                    (ev.schema, ev.table, tuple(ev.keys)),
                    deletes,
                    tuple(ev.keys.values()),
                )
            elif ev.event_type in (EventType.INSERT, EventType.UPDATE):
                changed = ev.updated if self.field_mode and ev.event_type is EventType.UPDATE else None
                shape = (ev.schema, ev.table, tuple(ev.keys), tuple(ev.columns), changed)
                groups, values = upserts, (*ev.keys.values(), *ev.columns.values())
            else:
                raise LoadError(f"{ev.describe()}: a {ev.event_type.name} event cannot be loaded as a row")
            group = groups.get(shape)
            if group is None:
                group = groups[shape] = self._group(conn, shape, ev)
            group.rows.append(self._adapt(group, values, ev))
        return [*deletes.values(), *upserts.values()]

    def _group(self, conn: Any | None, shape: tuple, ev: EventData) -> Group:
        keys = tuple(ev.keys)
        if ev.event_type is EventType.DELETE:
            info = self._check(conn, ev, keys) if conn is not None else None
            adapters = tuple(info.adapters[k] for k in keys) if info else None
            return Group("DELETE", ev.schema, ev.table, keys, keys, None, None, _useful(adapters), first=ev)
        columns = (*keys, *ev.columns)
        picks = None
        info = self._check(conn, ev, columns) if conn is not None else None
        if info is not None and info.generated:
            kept = tuple(i for i, c in enumerate(columns) if c not in info.generated)
            if len(kept) != len(columns):
                picks, columns = kept, tuple(columns[i] for i in kept)
        changed = shape[4]
        update = None if changed is None else tuple(c for c in columns if c in changed and c not in keys)
        adapters = tuple(info.adapters[c] for c in columns) if info else None
        return Group("UPSERT", ev.schema, ev.table, keys, columns, update, picks, _useful(adapters), first=ev)

    @staticmethod
    def _adapt(group: Group, values: tuple, ev: EventData) -> tuple:
        if group.picks is not None:
            values = tuple(values[i] for i in group.picks)
        if group.adapters is None:
            return values
        out = list(values)
        for i, adapt in enumerate(group.adapters):
            if adapt is not None and out[i] is not None:
                try:
                    out[i] = adapt(out[i])
                except DataError as exc:
                    raise DataError(
                        f"{ev.describe()}: column {group.columns[i]!r} cannot be written to "
                        f"{group.schema}.{group.table}: {exc}",
                        retryable=False,
                    ) from None
        return tuple(out)

    # ------------------------------------------------------------------------------------ applying

    def load(self, events: Sequence[EventData], slot: int) -> int:
        """Apply ``events`` in one transaction on connection ``slot``; return the rows applied."""
        if not events:
            return 0
        if self.dry_run:
            for planned in self.plan(events, None):
                log.info(
                    "dry run: would %s %d row(s) on %s, first %s",
                    planned.kind,
                    len(planned.rows),
                    self.target.name,
                    planned.first.describe() if planned.first else "",
                )
            return 0
        conn = self._slot(slot)
        group: Group | None = None
        try:
            groups = self.plan(events, conn)
            cur = conn.cursor()
            if self._fence is not None:  # ZooKeeper mode: a newer holder's token stops this transaction
                fencing.check(cur, self._label, *self._fence)
            if self.mark:
                self._ensure_mark_table(conn)
                cur.execute(
                    dialect.MARK_SQL,
                    (
                        dialect.mark_id(self.channel, self.pipeline.name, slot),
                        self.channel,
                        self.pipeline.name[:128],
                    ),
                )
            clear_unique_conflicts(
                cur,
                groups,
                lambda schema, table: self._table(conn, schema, table),
                self.pipeline.two_way,
                DEFAULT_CHUNK_ROWS,
            )
            used: set[str] = set()
            for group in groups:
                if group.kind == "UPSERT" and self.copy_min_rows and len(group.rows) >= self.copy_min_rows:
                    self._copy_upsert(cur, slot, group, used)
                else:
                    self._statements(cur, group)
            conn.commit()
        except Exception as exc:
            self._rollback(slot)
            if isinstance(exc, (LoadError, DataError)):
                raise
            raise self._error(group, exc) from None
        return sum(len(g.rows) for g in groups)

    def _statements(self, cur: Any, g: Group) -> None:
        per = dialect.rows_per_statement(len(g.columns), self.chunk_rows)
        for start in range(0, len(g.rows), per):
            chunk = g.rows[start : start + per]
            sql = (
                dialect.delete_sql(g.schema, g.table, g.keys, len(chunk))
                if g.kind == "DELETE"
                else dialect.upsert_sql(g.schema, g.table, g.columns, g.keys, g.update, len(chunk))
            )
            cur.execute(sql, [v for row in chunk for v in row])

    def _copy_upsert(self, cur: Any, slot: int, g: Group, used: set[str]) -> None:
        stage = dialect.stage_name(g.schema, g.table)
        if stage not in self._stages[slot]:
            cur.execute(dialect.stage_table_sql(stage, g.schema, g.table))
            self._stages[slot].add(stage)
        elif stage in used:  # a second group of the same table in this transaction
            cur.execute(f"TRUNCATE {dialect.quote_ident(stage)}")
        used.add(stage)
        with cur.copy(dialect.copy_sql(stage, g.columns)) as copy:
            for row in g.rows:
                copy.write_row(row)
        cur.execute(dialect.merge_stage_sql(stage, g.schema, g.table, g.columns, g.keys, g.update))

    def _ensure_mark_table(self, conn: Any) -> None:
        if not self._mark_ready:
            for sql in dialect.MARK_DDL:
                conn.execute(sql)
            conn.commit()
            self._mark_ready = True

    def _rollback(self, slot: int) -> None:
        conn = self._slots[slot]
        if conn is None:
            return
        try:
            conn.rollback()
        except Exception:
            self._slots[slot] = None
        if conn.closed or conn.broken:
            self._slots[slot] = None
        self._stages[slot] = set()  # the temp tables may have been created in the rolled-back transaction

    def _error(self, group: Group | None, exc: Exception) -> LoadError:

        where = f"{group.kind} into {group.schema}.{group.table}" if group else "loading"
        first = f", first row {group.first.describe()}" if group and group.first else ""
        diag = getattr(exc, "diag", None)
        detail = getattr(diag, "message_detail", None) if diag else None
        cause = str(exc).strip().splitlines()[0] + (f" ({detail})" if detail else "")
        if group is not None and getattr(diag, "sqlstate", None) == "42703":  # a column appeared/disappeared
            self._tables.pop((group.schema, group.table), None)
        return LoadError(
            f"target {self.target.name}: {where} failed{first}; rolled back: {cause}", **error_kwargs(exc)
        )

    # ------------------------------------------------------------------------------------ DDL

    def apply_ddl(self, event: EventData) -> None:
        """Translate a MySQL DDL to PostgreSQL and run it in one transaction (or refuse it, naming it)."""
        if not event.ddl_sql:
            return
        try:
            statements = translate(event.ddl_sql, event.schema)
        except Untranslatable as exc:
            raise LoadError(
                f"target {self.target.name} is PostgreSQL: {exc} (at {event.position}); apply the "
                "PostgreSQL equivalent by hand and set `skip_ddl: true`, or set `skip_ddl_exception: "
                "true` to write DDL otter cannot translate to the reject log and go on",
                retryable=False,
            ) from None
        if self.dry_run or not statements:
            log.info("DDL on %s: %s", event.full_name, statements or "nothing to do on PostgreSQL")
            return
        import psycopg

        conn = self._connect()
        try:
            if self._fence is not None:  # checked in the DDL's own transaction
                fencing.check(conn.cursor(), self._label, *self._fence)
            for sql in statements:
                conn.execute(sql)
            conn.commit()
            log.info("applied DDL on %s as %s", event.full_name, statements)
        except psycopg.Error as exc:
            conn.rollback()
            state = getattr(getattr(exc, "diag", None), "sqlstate", None)
            if state in DDL_ALREADY_APPLIED:
                log.warning(
                    "DDL on %s already applied on %s (%s), skipped: %s",
                    event.full_name,
                    self.target.name,
                    str(exc).strip(),
                    statements,
                )
                return
            raise LoadError(
                f"DDL on target {self.target.name} table {event.full_name} failed: {str(exc).strip()}; "
                f"statements: {statements}",
                retryable=False,
            ) from None
        finally:
            conn.close()
            self._tables.clear()


def _useful(adapters: tuple | None) -> tuple | None:
    return adapters if adapters is not None and any(a is not None for a in adapters) else None

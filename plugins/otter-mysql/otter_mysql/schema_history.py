"""A versioned schema history: the table layout in force at each binlog position (as canal's TSDB and
Debezium's schema history keep one).

Why: with ``binlog_row_metadata=MINIMAL`` a rows event says neither column names nor order, and the
layout ``information_schema`` shows now may be newer than the rows being read (a pipeline behind an
``ALTER``). The history starts from ``information_schema`` read at a known binlog position (the
snapshot), applies every DDL of the binlog in order to a model of the tables (``ddl_statements``) and
keeps each table's versions with the position they start at. It is saved in the state directory, so a
restart behind a DDL decodes with the layout before it. Where the layout cannot be known (rows older
than the snapshot with a DDL in between, a DDL the model cannot follow) the version is *unknown*: rows
in it stop the pipeline (or are rejected) with the DDL and position named; nothing is guessed.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from otter_core.spi import SourceError
from otter_mysql import ddl
from otter_mysql.ddl_model import TableModel, Unfollowable
from otter_mysql.ddl_statements import apply
from otter_mysql.schema import _COLUMNS_SQL, _STATS_SQL, TableSchema, column_infos, index_map

log = logging.getLogger("otter.select")
Pos = tuple[str, int]  # (binlog file, end position of the event)
Version = tuple[Pos | None, TableModel | None, str | None]  # start, model (None: absent/unknown), why unknown
FORMAT = 1


def where(pos: Pos | None) -> str:
    return f"{pos[0]}:{pos[1]}" if pos else "the start"


def remedy(table: str, pos: Pos | None) -> str:
    after = f" (after {where(pos)})" if pos else ""
    return (
        f"otter cannot decode these rows exactly; set the pipeline's position past that DDL{after} and "
        f"resync {table} (otter-run resync), or skip them to the reject log with skip_select_exception"
    )


class SchemaHistory:
    """Table versions by (schema, table); ``layout`` answers which one a rows event at a position uses."""

    def __init__(self, path: str | os.PathLike | None = None) -> None:
        self.path = Path(path) if path else None
        self.base: Pos | None = None  # position of the snapshot
        self.high: Pos | None = None  # every DDL up to here is applied
        self.schemas: set[str] = set()  # schemas read in the snapshot
        self.charsets: dict[str, str | None] = {}
        self.server_charset: str | None = None
        self.tables: dict[tuple[str, str], list[Version]] = {}
        self._pending: dict[tuple[str, str], TableModel | None] = {}
        self._frozen: dict[int, tuple[TableModel, TableSchema]] = {}

    # -- building ------------------------------------------------------------------------------
    def snapshot(self, conn: Any, schemas: Iterable[str], at: Pos) -> None:
        """Start from information_schema, read while the binlog stood at ``at``."""
        self.base = self.high = at
        self.tables.clear()
        self.schemas = set(schemas)
        with conn.cursor() as cur:
            cur.execute("SELECT SCHEMA_NAME, DEFAULT_CHARACTER_SET_NAME FROM information_schema.SCHEMATA")
            self.charsets = {s: c for s, c in cur.fetchall()}
            cur.execute("SELECT @@character_set_server")
            self.server_charset = cur.fetchone()[0]
            for schema in sorted(self.schemas):
                cur.execute(
                    "SELECT TABLE_NAME, TABLE_COLLATION FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s "
                    "AND TABLE_TYPE = 'BASE TABLE'",
                    (schema,),
                )
                collations = {t: c for t, c in cur.fetchall()}
                cur.execute(_COLUMNS_SQL.format(extra=""), (schema,))
                cols: dict[str, list[tuple]] = {}
                for row in cur.fetchall():
                    cols.setdefault(row[1], []).append(row[2:])
                cur.execute(_STATS_SQL.format(extra=""), (schema,))
                stats: dict[str, list[tuple]] = {}
                for row in cur.fetchall():
                    stats.setdefault(row[1], []).append(row[2:])
                for table, rows in cols.items():
                    if table not in collations:
                        continue  # a view
                    model = TableModel(
                        schema,
                        table,
                        column_infos(rows),
                        index_map(stats.get(table, [])),
                        (collations[table] or "").split("_", 1)[0] or None,
                    )
                    self.tables[(schema, table)] = [(None, model, None)]

    def unknown_before(self, schema: str, table: str, pos: Pos, reason: str) -> None:
        """Rows of the table older than ``pos`` have a layout the snapshot does not show (a DDL at
        ``pos`` that the snapshot already contains)."""
        versions = self.tables.get((schema, table), [(None, None, None)])
        self.tables[(schema, table)] = [(None, None, reason)] + [(pos, m, r) for _, m, r in versions[-1:]]

    def on_ddl(self, text: str, default_schema: str, pos: Pos) -> bool:
        """Apply one DDL seen at ``pos`` (once: a replay of DDL already applied is ignored). Returns
        True when a table's version changed."""
        if self.high is not None and pos <= self.high:
            return False
        self.high = pos
        stmt = ddl.parse(text, default_schema)
        if stmt.kind not in ("table", "database"):
            return False
        self._pending = {}
        try:
            apply(self, text, default_schema)
            changes = dict(self._pending)
        except Unfollowable as exc:
            reason = f"the DDL {text.strip()[:300]!r} at {where(pos)} could not be followed ({exc})"
            changes = {}
            tracked = [(s, t) for s, t in stmt.tables if (s, t) in self.tables or s in self.schemas]
            for key in tracked:
                self.tables.setdefault(key, []).append((pos, None, reason))
            if tracked:
                log.warning("schema history: %s", reason)
        finally:
            self._pending = {}
        for key, model in changes.items():
            self.tables.setdefault(key, []).append((pos, model, None))
        return True

    # -- the Models protocol of ddl_statements -------------------------------------------------
    def model(self, schema: str, table: str) -> TableModel | None:
        key = (schema, table)
        if key in self._pending:
            return self._pending[key]
        versions = self.tables.get(key)
        if not versions:
            return None
        _, model, reason = versions[-1]
        if reason is not None:
            raise Unfollowable(f"the layout of {schema}.{table} is unknown since {reason}")
        return model

    def put(self, schema: str, table: str, model: TableModel | None) -> None:
        self._pending[(schema, table)] = model

    def schema_charset(self, schema: str) -> str | None:
        return self.charsets.get(schema) or self.server_charset

    def set_schema_charset(self, schema: str, charset: str | None) -> None:
        self.charsets[schema] = charset or self.charsets.get(schema) or self.server_charset

    def drop_schema(self, schema: str) -> None:
        for key, versions in self.tables.items():
            if key[0] == schema and versions[-1][1] is not None:
                self._pending[key] = None

    # -- reading -------------------------------------------------------------------------------
    def knows(self, schema: str) -> bool:
        return schema in self.schemas or any(k[0] == schema for k in self.tables)

    def layout(self, schema: str, table: str, pos: Pos) -> TableSchema:
        """The table as it was when the rows event at ``pos`` was logged; SourceError when unknown, absent
        or without a key (rows of a keyless table cannot be applied by key)."""
        name = f"{schema}.{table}"
        versions = self.tables.get((schema, table), [])
        found: Version | None = None
        for version in versions:
            if version[0] is None or version[0] <= pos:
                found = version
        if found is None:
            raise SourceError(
                f"rows of {name} at {where(pos)} are older than what the schema history knows of the table "
                f"(it starts at {where(versions[0][0]) if versions else where(self.base)}); "
                + remedy(name, versions[0][0] if versions else self.base),
                retryable=False,
            )
        start, model, reason = found
        if reason is not None:
            raise SourceError(
                f"rows of {name} at {where(pos)} were logged with a table layout otter does not know: "
                f"{reason}; " + remedy(name, _next_start(versions, found)),
                retryable=False,
            )
        if model is None:
            raise SourceError(
                f"rows of {name} at {where(pos)}: the schema history has no such table at that position "
                f"(dropped or not yet created at {where(start)}); " + remedy(name, start),
                retryable=False,
            )
        cached = self._frozen.get(id(model))
        if cached is None or cached[0] is not model:  # ids of pruned models may be reused
            cached = self._frozen[id(model)] = (model, model.freeze())
        frozen = cached[1]
        if not frozen.key:
            later = _next_start(versions, found)
            what = (
                f"the table changed at {where(later)}: set the pipeline's position past that DDL and resync "
                f"{name} (otter-run resync), or skip such rows to the reject log with skip_select_exception"
                if later
                else f"leave {name} out of the pipeline (`exclude: [{name}]`) and start it again; or add a "
                f"primary key (or a UNIQUE key whose columns are NOT NULL), set the pipeline's position past "
                f"the ALTER that adds it and resync {name} (otter-run resync)"
            )
            raise SourceError(
                f"table {name} has no primary key and no UNIQUE NOT NULL key at {where(pos)}: rows logged "
                f"while it had none cannot be applied by key (a key added later does not identify them; "
                f"equal rows would be merged or lost); {what}",
                retryable=False,
            )
        return frozen

    # -- persistence ---------------------------------------------------------------------------
    def prune(self, before: Pos) -> None:
        """Forget versions no position at or after ``before`` can need."""
        for key, versions in self.tables.items():
            keep = [v for v in versions if v[0] is not None and v[0] > before]
            older = [v for v in versions if v[0] is None or v[0] <= before]
            self.tables[key] = older[-1:] + keep

    def save(self) -> None:
        if self.path is None:
            return
        data = {
            "format": FORMAT,
            "base": self.base,
            "high": self.high,
            "schemas": sorted(self.schemas),
            "charsets": self.charsets,
            "server_charset": self.server_charset,
            "tables": [
                [s, t, [[p, m.to_dict() if m else None, r] for p, m, r in versions]]
                for (s, t), versions in self.tables.items()
            ],
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(data, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    def load(self) -> bool:
        """Read the saved history; False when there is none (or it is of another format)."""
        if self.path is None or not self.path.exists():
            return False
        data = json.loads(self.path.read_text(encoding="utf-8"))
        if data.get("format") != FORMAT:
            return False
        self.base = tuple(data["base"]) if data["base"] else None
        self.high = tuple(data["high"]) if data["high"] else None
        self.schemas = set(data["schemas"])
        self.charsets = data["charsets"]
        self.server_charset = data.get("server_charset")
        self.tables = {
            (s, t): [
                (tuple(p) if p else None, TableModel.from_dict(m) if m else None, r) for p, m, r in versions
            ]
            for s, t, versions in data["tables"]
        }
        return True


def _next_start(versions: list[Version], found: Version) -> Pos | None:
    index = next(i for i, v in enumerate(versions) if v is found)
    return versions[index + 1][0] if index + 1 < len(versions) else None

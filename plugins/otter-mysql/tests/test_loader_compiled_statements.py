"""The compiled chunk builder (``dialect.sql_values``) and statement grouping (``statement_shapes``) send
exactly the statements of the Python loops.

Each workload is loaded twice into a real MariaDB, once with the extension's builder and once with it
switched off; the statements sent, in order, and the target's rows must be the same. Chunk limits are
small so that the row and character limits cut chunks, and ``BIG_ROW_BYTES`` is lowered so that some
rows travel alone."""

from __future__ import annotations

import datetime
import decimal
from typing import Any

import loader_support
import pytest
from loader_support import DB, dele, ins, make_loader, upd

from otter_core.spi import EventData, EventType, LoadError
from otter_core.testing.mariadb import MariaDBServer
from otter_mysql import bigrows, dialect, load_plan, multi_statement, statement_path
from otter_mysql import loader as loader_module
from otter_mysql.conflicts import INSERT_ONLY

pytestmark = pytest.mark.usefixtures("clean_databases")

DDL = (
    "CREATE TABLE lt.t (id INT PRIMARY KEY, name VARCHAR(64), qty INT, price DECIMAL(12,2), "
    "at DATETIME, note TEXT, raw BLOB)",
    "CREATE TABLE lt.k2 (a INT, b VARCHAR(8), v INT, PRIMARY KEY (a, b))",
)


def row(i: int) -> dict[str, Any]:
    return {
        "name": ["n'%d", "é😀%d", "back\\slash%d", "nul\x00%d"][i % 4] % i,
        "qty": None if i % 7 == 0 else i,
        "price": decimal.Decimal(f"{i}.{i % 100:02d}"),
        "at": datetime.datetime(2024, 1, 2, 3, 4, i % 60),
        "note": "x" * (i % 300),
        "raw": bytes([i % 256]) * (i % 50),
    }


def workload() -> list[list[EventData]]:
    inserts = [ins("t", i, **row(i)) for i in range(1, 400)]
    inserts += [
        EventData(DB, "k2", EventType.INSERT, keys={"a": i, "b": f"b{i}"}, columns={"v": i})
        for i in range(60)
    ]
    updates = [upd("t", i, updated={"name", "qty"}, **row(i + 1000)) for i in range(1, 400, 3)]
    updates += [upd("t", i, **row(i + 2000)) for i in range(2, 400, 5)]  # every column: the upsert
    deletes = [dele("t", i, **row(i)) for i in range(1, 400, 4)]
    deletes += [
        EventData(DB, "k2", EventType.DELETE, keys={"a": i, "b": f"b{i}"}, columns={"v": i})
        for i in range(0, 60, 2)
    ]
    batches = [inserts, updates, deletes]
    for event in (ev for batch in batches for ev in batch):  # rows with longer notes: "big" (see below)
        object.__setattr__(event, "size", 100 + len(event.columns.get("note") or ""))
    return batches


class RecordingLoader(loader_module.MySQLLoader):
    def _execute(self, cur: Any, state: Any, slot: int, sql: Any, group: Any, rows: Any) -> None:
        self.sent.append(
            (sql.encode("utf8", "surrogateescape") if isinstance(sql, str) else bytes(sql), len(rows))
        )
        super()._execute(cur, state, slot, sql, group, rows)

    def _execute_many(self, cur: Any, slot: int, statements: Any, limit: int, at: Any) -> Any:
        for _group, rows, sql in statements:  # one multi-statement query
            self.sent.append(
                (sql if isinstance(sql, bytes) else sql.encode("utf8", "surrogateescape"), len(rows))
            )
        return super()._execute_many(cur, slot, statements, limit, at)


def load(
    server: MariaDBServer, monkeypatch: pytest.MonkeyPatch, compiled: bool, batches: list[list[EventData]]
) -> tuple[list, list]:
    server.execute(f"DROP DATABASE IF EXISTS {DB}", f"CREATE DATABASE {DB}", *DDL)
    calls = []

    def counted(*args: Any) -> Any:
        calls.append(args[1])
        return dialect.sql_values(*args)

    for module in (statement_path, multi_statement):  # the two paths that render chunks
        monkeypatch.setattr(module, "sql_values", counted if compiled else None)
    monkeypatch.setattr(
        load_plan, "statement_shapes", dialect.compiled("statement_shapes") if compiled else None
    )
    monkeypatch.setattr(loader_support, "MySQLLoader", RecordingLoader)
    loader = make_loader(server, pool=1, chunk_rows=37, chunk_bytes=5000)
    loader.sent = []
    try:
        for batch in batches:
            loader.load(batch, 0)
    finally:
        loader.close()
    assert bool(calls) == compiled
    return loader.sent, server.execute(f"SELECT * FROM {DB}.t ORDER BY id") + server.execute(
        f"SELECT * FROM {DB}.k2 ORDER BY a, b"
    )


def test_the_compiled_builder_sends_the_statements_of_the_python_loop(
    mariadb_target: MariaDBServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert dialect.sql_values is not None, "the otter_mysql._rowdecode extension did not build"
    monkeypatch.setattr(bigrows, "BIG_ROW_BYTES", 240)  # rows with longer notes go alone, as bytes
    python_sent, python_rows = load(mariadb_target, monkeypatch, False, workload())
    compiled_sent, compiled_rows = load(mariadb_target, monkeypatch, True, workload())
    assert compiled_sent == python_sent
    assert compiled_rows == python_rows
    counts = [n for _, n in compiled_sent]
    assert max(counts) == 37 and 1 in counts  # the row limit and the big rows cut chunks
    assert any(n < 37 and len(sql) > 4000 for sql, n in compiled_sent)  # and the size limit
    assert len(python_rows) == 399 - 100 + 60 - 30


def test_a_row_the_builder_cannot_render_is_named_as_by_the_python_loop(
    mariadb_target: MariaDBServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch = [ins("t", i, **row(i)) for i in range(1, 100)]
    batch[70] = ins("t", 71, **{**row(71), "qty": float("nan")})
    errors = []
    for compiled in (False, True):
        with pytest.raises(LoadError) as info:
            load(mariadb_target, monkeypatch, compiled, [batch])
        errors.append(str(info.value))
    assert errors[0] == errors[1]
    assert "row with key id=71" in errors[1] and "nan" in errors[1]
    assert mariadb_target.execute(f"SELECT COUNT(*) FROM {DB}.t") == [(0,)]  # rolled back whole


def test_the_compiled_grouping_makes_the_groups_of_the_python_loop(
    mariadb_target: MariaDBServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert load_plan.statement_shapes is not None, "the otter_mysql._rowdecode extension did not build"
    mariadb_target.execute(f"DROP DATABASE IF EXISTS {DB}", f"CREATE DATABASE {DB}", *DDL)
    inserts, updates, deletes = workload()
    moved = EventData(
        DB,
        "t",
        EventType.UPDATE,
        keys={"id": 900},
        columns=row(900),
        old_keys={"id": 901},
        updated=frozenset({"name"}),
    )
    checked = EventData(
        DB, "t", EventType.INSERT, keys={"id": 902}, columns=row(902), hints=frozenset({INSERT_ONLY})
    )
    reordered = EventData(
        DB, "t", EventType.INSERT, keys={"id": 903}, columns=dict(reversed(row(903).items()))
    )
    events = [*deletes[:5], *inserts[:50], moved, *updates, checked, *deletes[5:], reordered, *inserts[50:]]
    loader = make_loader(mariadb_target, pool=1)
    try:
        conn = loader._slot(0).conn
        made = []
        for shapes in (dialect.compiled("statement_shapes"), None):
            monkeypatch.setattr(load_plan, "statement_shapes", shapes)
            made.append(
                [
                    (
                        g.kind,
                        g.columns,
                        g.head,
                        g.tail,
                        g.picks,
                        [id(e) for e in g.events],
                        g.fallback and (g.fallback.head, g.fallback.tail, g.fallback.picks),
                    )
                    for g in loader._plan(events, conn)
                ]
            )
    finally:
        loader.close()
    assert made[0] == made[1]
    kinds = [kind for kind, *_ in made[0]]
    assert kinds[:2] == ["DELETE", "DELETE"] and "UPDATE" in kinds and len(made[0]) >= 7
    with pytest.raises(LoadError, match="DDL"):
        loader._plan([inserts[0], EventData(DB, "t", EventType.DDL, ddl_sql="DROP TABLE t")], None)

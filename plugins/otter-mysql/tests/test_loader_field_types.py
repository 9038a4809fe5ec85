"""Field mode on a table of every MariaDB column type, against real servers: the source's changes, as
the selector decodes them, loaded by the field-mode loader (UPDATE join, upserts; compiled and Python
statement builders) leave the target equal to the source column by column; end to end through the
runner's defaults too."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from loader_support import make_loader
from selector_support import drain, make_selector

from otter_core.load.merge import merge_events
from otter_core.spi import SyncMode, Transaction
from otter_core.testing.alltypes import DB, create_tables, differences, snapshot, write_workload
from otter_core.testing.harness import pipeline_yaml, running, wait_caught_up
from otter_core.testing.mariadb import MariaDBServer
from otter_core.testing.twoway import wait_quiet
from otter_mysql import dialect, load_plan, multi_statement, statement_path
from otter_mysql import loader as loader_module

pytestmark = pytest.mark.usefixtures("clean_databases")


def source_changes(source: MariaDBServer, seed: int) -> list[Transaction]:
    """The workload's transactions as the selector decodes them."""
    selector = make_selector(source, [(DB, "t")])
    try:
        write_workload(source, seed)
        return [tx for tx in drain(selector, quiet=1.0) if tx.events]
    finally:
        selector.close()


@pytest.mark.parametrize("path", ["join-compiled", "join-python", "upsert"], ids=lambda p: p)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_field_mode_loads_every_type_exactly(
    mariadb_source: MariaDBServer,
    mariadb_target: MariaDBServer,
    monkeypatch: pytest.MonkeyPatch,
    seed: int,
    path: str,
) -> None:
    create_tables(mariadb_source, mariadb_target)
    transactions = source_changes(mariadb_source, seed)
    if path == "join-python":
        for module in (statement_path, multi_statement):  # the two paths that render chunks
            monkeypatch.setattr(module, "sql_values", None)
        monkeypatch.setattr(load_plan, "statement_shapes", None)
    else:
        assert dialect.sql_values is not None, "the otter_mysql._rowdecode extension did not build"
    kinds: list[str] = []

    class Recording(loader_module.MySQLLoader):
        def _execute(self, cur: Any, state: Any, slot: int, sql: Any, group: Any, rows: Any) -> None:
            kinds.append(group.kind)
            super()._execute(cur, state, slot, sql, group, rows)

        def _execute_many(self, cur: Any, slot: int, statements: Any, limit: int, at: Any) -> Any:
            kinds.extend(group.kind for group, _rows, _sql in statements)  # one multi-statement query
            return super()._execute_many(cur, slot, statements, limit, at)

    monkeypatch.setattr("loader_support.MySQLLoader", Recording)
    loader = make_loader(mariadb_target, SyncMode.FIELD, pool=1)
    loader.update_join = path != "upsert"
    try:
        for tx in transactions:
            loader.load(merge_events(tx.events), 0)
    finally:
        loader.close()
    assert differences(snapshot(mariadb_source), snapshot(mariadb_target)) == []
    # the path under test was taken: the join updated rows (no fallback needed), or upserts only
    assert ("UPDATE" in kinds) == (path != "upsert") and "UPSERT" in kinds


def test_default_pipeline_replicates_every_type_exactly(
    mariadb_source: MariaDBServer, mariadb_target: MariaDBServer, tmp_path: Any
) -> None:
    create_tables(mariadb_source, mariadb_target)
    file, pos = mariadb_source.binlog_position()  # pinned: "current" is resolved after start (issue 18.2)
    start = {"file": file, "pos": pos}
    text = pipeline_yaml(mariadb_source, mariadb_target, [f"{DB}.t"], start=start, retry_max=1)
    with running(text, str(tmp_path)) as runner:
        write_workload(mariadb_source, seed=7, rows=30, transactions=20)
        wait_caught_up(runner, mariadb_source, timeout=120)
    assert differences(snapshot(mariadb_source), snapshot(mariadb_target)) == []


def test_two_way_default_channel_converges_on_every_type(
    mariadb_source: MariaDBServer, mariadb_target: MariaDBServer, tmp_path: Any
) -> None:
    a, b = mariadb_source, mariadb_target
    create_tables(a, b)
    params = {"batch_timeout_ms": 50, "retry_backoff_ms": 100, "retry_max": 1}

    def pipeline(name: str, source: str, target: str, server: MariaDBServer, home: bool) -> dict:
        file, pos = server.binlog_position()
        return {
            "name": name,
            "source": source,
            "target": target,
            "start": {"file": file, "pos": pos},
            "pairs": [f"{DB}.t"],
            "parameters": params,
            **({"home": True} if home else {}),
        }

    text = yaml.safe_dump(
        {
            "sources": {"a": a.source_config("a"), "b": b.source_config("b")},
            "channels": [
                {
                    "name": "ab",
                    "pipelines": [
                        pipeline("a-to-b", "a", "b", a, True),
                        pipeline("b-to-a", "b", "a", b, False),
                    ],
                }
            ],
        },
        sort_keys=False,
    )
    with running(text, str(tmp_path)) as runner:
        write_workload(a, seed=11, rows=20, transactions=8)
        wait_quiet(runner, a, b, sources={"a": a, "b": b}, timeout=120)
        assert differences(snapshot(a), snapshot(b)) == []
        before = snapshot(a)
        write_workload(b, seed=12, rows=20, transactions=8, insert=False)  # b changes a's rows
        wait_quiet(runner, a, b, sources={"a": a, "b": b}, timeout=120)
    after = snapshot(a)
    assert differences(after, snapshot(b)) == []
    assert after != before  # b's changes came back to a (and home's remedy did not undo them)


def test_compiled_and_python_builders_send_the_same_typed_joins(
    mariadb_source: MariaDBServer, mariadb_target: MariaDBServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert dialect.sql_values is not None, "the otter_mysql._rowdecode extension did not build"
    create_tables(mariadb_source)
    transactions = source_changes(mariadb_source, seed=5)
    sent: dict[bool, list[tuple[str, bytes]]] = {True: [], False: []}

    class Recording(loader_module.MySQLLoader):
        def _execute(self, cur: Any, state: Any, slot: int, sql: Any, group: Any, rows: Any) -> None:
            text = sql.encode("utf8", "surrogateescape") if isinstance(sql, str) else bytes(sql)
            sent[compiled].append((group.kind, text))
            super()._execute(cur, state, slot, sql, group, rows)

        def _execute_many(self, cur: Any, slot: int, statements: Any, limit: int, at: Any) -> Any:
            for group, _rows, sql in statements:  # one multi-statement query
                sent[compiled].append((group.kind, sql if isinstance(sql, bytes) else sql.encode("utf8")))
            return super()._execute_many(cur, slot, statements, limit, at)

    monkeypatch.setattr("loader_support.MySQLLoader", Recording)
    for compiled in (True, False):
        mariadb_target.execute(f"DROP DATABASE IF EXISTS {DB}")
        create_tables(mariadb_target)
        for module in (statement_path, multi_statement):  # the two paths that render chunks
            monkeypatch.setattr(module, "sql_values", dialect.sql_values if compiled else None)
        monkeypatch.setattr(
            load_plan, "statement_shapes", dialect.compiled("statement_shapes") if compiled else None
        )
        loader = make_loader(mariadb_target, SyncMode.FIELD, pool=1, chunk_rows=5)
        try:
            for tx in transactions:
                loader.load(merge_events(tx.events), 0)
        finally:
            loader.close()
        assert differences(snapshot(mariadb_source), snapshot(mariadb_target)) == []
    assert sent[True] == sent[False]  # byte for byte, in order
    joins = [sql for kind, sql in sent[True] if kind == "UPDATE"]
    assert joins and all(b" FROM `fieldtypes`.`t` WHERE 0 UNION ALL VALUES " in sql for sql in joins)
    assert any(b"CONVERT(`l1` USING utf8mb4)" in sql for sql in joins)
    assert any(b"CAST(`b1` AS UNSIGNED)" in sql for sql in joins)

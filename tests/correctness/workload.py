"""Generated DML for the harness's table and its execution on the source.

A workload is a list of transactions, each a list of operations on keys drawn from the key shape's
small pool, so inserts, updates, key changes and deletes hit the same rows: ``insert`` (an upsert of
the whole row: an insert, or an update of every column when the key exists), ``update`` (some
columns), ``rekey`` (a primary key change; IGNORE when the new key is taken) and ``delete``. The source
runs them as given; whatever it ends with is the truth the target is compared with.

An example over several tables draws one workload per table and runs their i-th transactions as one
(``on_tables``): the tables' rows differ, and transactions span tables. An operation on a table other
than ``t`` is wrapped as ``("in", table, operation)``.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from tests.correctness.catalogue import BY_NAME, WRITABLE, Big, KeyShape, row_values

OPERATIONS = ["insert"] * 3 + ["update"] * 3 + ["multi"] * 2 + ["rekey", "delete", "bulk"]
MAX_BULK_ROWS = 300  # rows the first transaction may add beside the pool: chunks of many rows


@st.composite
def operation(draw: st.DrawFn, key: KeyShape) -> tuple:
    kind = draw(st.sampled_from(OPERATIONS))
    at = draw(st.sampled_from(key.pool))
    if kind == "insert":
        return ("insert", at, draw(row_values()))
    if kind == "update":
        names = draw(
            st.lists(st.sampled_from([c.name for c in WRITABLE]), min_size=1, max_size=8, unique=True)
        )
        return ("update", at, draw(row_values([BY_NAME[n] for n in names])))
    if kind == "rekey":
        return ("rekey", at, draw(st.sampled_from(key.pool)))
    if kind == "multi":  # the same columns of several rows, each its own values: multi-row statements
        names = draw(
            st.lists(st.sampled_from([c.name for c in WRITABLE]), min_size=1, max_size=3, unique=True)
        )
        columns = [BY_NAME[n] for n in names]
        keys = draw(
            st.lists(
                st.sampled_from(key.pool) | st.integers(0, 20).map(key.filler),
                min_size=2,
                max_size=12,
                unique=True,
            )
        )
        return ("multi", None, [(k, draw(row_values(columns, nulls=10))) for k in keys])
    if kind == "bulk":  # some columns of every row in one statement
        names = draw(
            st.lists(st.sampled_from([c.name for c in WRITABLE]), min_size=1, max_size=6, unique=True)
        )
        return ("bulk", None, draw(row_values([BY_NAME[n] for n in names], nulls=10)))
    return ("delete", at, None)


@st.composite
def workload(draw: st.DrawFn, key: KeyShape, max_transactions: int, max_statements: int = 5) -> list:
    """A first transaction that inserts every key of the pool (so later operations find rows) and up to
    ``MAX_BULK_ROWS`` more (one drawn row, its keys and ``ins`` varied: statements of many rows), then
    ``max_transactions // 2`` .. ``max_transactions`` transactions of 1..``max_statements`` operations."""
    seed = [("insert", at, draw(row_values(nulls=10))) for at in key.pool]
    bulk = draw(st.integers(0, MAX_BULK_ROWS))
    if bulk:
        values = draw(row_values(nulls=10))
        seed += [("insert", key.filler(i), {**values, "ins": i}) for i in range(bulk)]
    rest = draw(
        st.lists(
            st.lists(operation(key), min_size=1, max_size=max_statements),
            min_size=max(1, max_transactions // 2),
            max_size=max_transactions,
        )
    )
    return [seed, *rest]


@st.composite
def on_tables(draw: st.DrawFn, key: KeyShape, max_transactions: int, tables: tuple[str, ...]) -> list:
    """One ``workload`` per table of ``tables`` (the first is ``t``), their i-th transactions run as one:
    the first transaction seeds every table."""
    drawn = [draw(workload(key, max_transactions)) for _ in tables]
    merged: list[list] = []
    for i in range(max(len(w) for w in drawn)):
        tx: list = []
        for table, transactions in zip(tables, drawn, strict=True):
            if i < len(transactions):
                tx += [op if table == "t" else ("in", table, op) for op in transactions[i]]
        merged.append(tx)
    return merged


def _where(key: KeyShape) -> str:
    return " AND ".join(f"`{n}` = %s" for n, _ in key.columns)


def _assignments(values: dict) -> tuple[list[str], list[Any]]:
    parts, args = [], []
    for name, value in values.items():
        col = BY_NAME[name]
        if value is None:
            parts.append(f"`{name}` = NULL")
        else:
            parts.append(f"`{name}` = {col.write}")
            args.append(value)
    return parts, args


def statements(schema: str, key: KeyShape, op: tuple, table: str = "t") -> list[tuple[str, list]]:
    """The SQL and parameters of one operation on ``table`` (a ``multi`` is one UPDATE per row; an
    ``("in", other, operation)`` runs on the other table)."""
    if op[0] == "in":
        return statements(schema, key, op[2], op[1])
    if op[0] == "multi":
        return [statement(schema, key, ("update", at, values), table) for at, values in op[2]]
    return [statement(schema, key, op, table)]


def statement(schema: str, key: KeyShape, op: tuple, table_name: str = "t") -> tuple[str, list]:
    """The SQL and its parameters for one operation other than ``multi`` on ``table_name``."""
    kind, at, payload = op
    table = f"`{schema}`.`{table_name}`"
    if kind == "insert":
        names = [n for n, _ in key.columns] + list(payload)
        marks = ["%s"] * len(key.columns)
        args = list(at)
        for name, value in payload.items():
            marks.append("NULL" if value is None else BY_NAME[name].write)
            if value is not None:
                args.append(value)
        update = ", ".join(f"`{n}` = VALUES(`{n}`)" for n in payload)
        cols = ", ".join(f"`{n}`" for n in names)
        return (
            f"INSERT INTO {table} ({cols}) VALUES ({', '.join(marks)}) ON DUPLICATE KEY UPDATE {update}",
            args,
        )
    if kind == "update":
        parts, args = _assignments(payload)
        return f"UPDATE {table} SET {', '.join(parts)} WHERE {_where(key)}", [*args, *at]
    if kind == "bulk":
        parts, args = _assignments(payload)
        return f"UPDATE {table} SET {', '.join(parts)}", args
    if kind == "rekey":
        sets = ", ".join(f"`{n}` = %s" for n, _ in key.columns)
        return f"UPDATE IGNORE {table} SET {sets} WHERE {_where(key)}", [*payload, *at]
    return f"DELETE FROM {table} WHERE {_where(key)}", list(at)


def apply_workload(server: Any, schema: str, key: KeyShape, transactions: list) -> None:
    """Run the transactions on ``server`` in a session that accepts zero dates (sql_mode='') in UTC."""
    conn = server.connect(autocommit=False)
    try:
        with conn.cursor() as cur:
            cur.execute("SET SESSION sql_mode = '', time_zone = '+00:00'")
            for tx in transactions:
                for op in tx:
                    for sql, args in statements(schema, key, op):
                        cur.execute(sql, [a.value() if isinstance(a, Big) else a for a in args])
                conn.commit()
    finally:
        conn.close()


def describe(schema: str, key: KeyShape, transactions: list, limit: int = 200) -> str:
    """The workload as readable SQL (long values shortened), for a failure's message."""
    lines = []
    for i, tx in enumerate(transactions):
        lines.append(f"-- transaction {i + 1}")
        sqls = [s for op in tx for s in statements(schema, key, op)]
        if len(sqls) > 20:
            sqls, more = sqls[:10], len(sqls) - 10
        else:
            more = 0
        for sql, args in sqls:
            shown = [
                a if not isinstance(a, (str, bytes)) or len(a) <= 40 else f"<{len(a)} {type(a).__name__}>"
                for a in args
            ]
            lines.append(f"{sql[:limit]} -- {shown!r:.{limit}}")
        if more:
            lines.append(f"… and {more} more statements like these")
    return "\n".join(lines)

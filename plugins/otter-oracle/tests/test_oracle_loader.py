"""The Oracle loader against a recording connection (no Oracle server can run here): what it sends, in
which transaction, with which binds, and how failures come back. The same loader runs against a real
database in test_oracle_live.py when OTTER_ORACLE_DSN is set."""

import datetime as dt
from decimal import Decimal

import pytest

from otter_core.spi import (
    DataMedia,
    DataMediaPair,
    DataMediaSource,
    EventData,
    EventType,
    LoadError,
    Pipeline,
    PipelineParameters,
    PipelinePlugins,
)
from otter_oracle.loader import OracleLoader

TARGET = DataMediaSource(
    "ora",
    "oracle",
    host="db.example",
    port=1521,
    user="otter",
    password="secret",
    options={"service_name": "ORCLPDB1", "load_chunk_rows": 2},
)


class OraError(Exception):
    def __init__(self, code, message):
        super().__init__(type("Err", (), {"code": code, "message": message})())
        self.text = message

    def __str__(self):
        return self.text


class RecordingConnection:
    """Records what a python-oracledb connection is asked to do; ``fail_on`` makes one statement raise."""

    def __init__(self, fail_on=None, mark_table_exists=True):
        self.log, self.fail_on, self.autocommit = [], fail_on, False
        self.mark_table_exists = mark_table_exists

    def cursor(self):
        return RecordingCursor(self)

    def commit(self):
        self.log.append(("commit",))

    def rollback(self):
        self.log.append(("rollback",))

    def close(self):
        self.log.append(("close",))


class RecordingCursor:
    def __init__(self, conn):
        self.conn = conn

    def _check(self, sql):
        if self.conn.fail_on and self.conn.fail_on[0] in sql:
            raise self.conn.fail_on[1]

    def execute(self, sql, binds=None):
        self.conn.log.append(("execute", sql, binds))
        self._check(sql)

    def executemany(self, sql, rows):
        self.conn.log.append(("executemany", sql, [list(r) for r in rows]))
        self._check(sql)

    def setinputsizes(self, *sizes):
        if sizes:
            self.conn.log.append(("setinputsizes", sizes))

    def fetchone(self):
        return (1 if self.conn.mark_table_exists else 0,)


def make_loader(conn, **params):
    pair = DataMediaPair(DataMedia("shop", "orders"), DataMedia("shop", "orders"))
    pipeline = Pipeline(
        "a-to-ora", "src", "ora", (pair,), parameters=PipelineParameters(**params), channel="shop"
    )
    return OracleLoader(TARGET, pipeline, connect=lambda target: conn)


def ins(i, amount, at=None):
    return EventData("shop", "orders", EventType.INSERT, {"id": i}, {"amount": amount, "at": at})


def test_deletes_then_merges_in_one_transaction_with_bound_values():
    conn = RecordingConnection()
    at = dt.datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=dt.timezone.utc)
    events = [
        ins(1, Decimal("1.50"), at),
        ins(2, None),
        EventData("shop", "orders", EventType.DELETE, {"id": 9}, {"amount": 0, "at": None}),
        EventData(
            "shop",
            "orders",
            EventType.UPDATE,
            {"id": 3},
            {"amount": True, "at": None},
            updated=frozenset({"amount"}),
        ),
    ]
    assert make_loader(conn, sync_mode="row").load(events, 0) == 4
    merge = (
        'MERGE INTO "SHOP"."ORDERS" t USING (SELECT :1 "ID", :2 "AMOUNT", :3 "AT" FROM DUAL) s ON '
        '(t."ID" = s."ID") WHEN MATCHED THEN UPDATE SET t."AMOUNT" = s."AMOUNT", t."AT" = s."AT" '
        'WHEN NOT MATCHED THEN INSERT ("ID", "AMOUNT", "AT") VALUES (s."ID", s."AMOUNT", s."AT")'
    )
    assert conn.log == [
        ("executemany", 'DELETE FROM "SHOP"."ORDERS" WHERE "ID" = :1', [[9]]),
        ("executemany", merge, [[1, Decimal("1.50"), dt.datetime(2024, 1, 2, 3, 4, 5, 6)], [2, None, None]]),
        ("executemany", merge, [[3, 1, None]]),
        ("commit",),
    ]


def test_field_mode_updates_group_by_changed_columns():
    conn = RecordingConnection()
    events = [
        EventData(
            "shop",
            "orders",
            EventType.UPDATE,
            {"id": i},
            {"amount": i, "at": None},
            updated=frozenset({"amount"}),
        )
        for i in (1, 2)
    ]
    make_loader(conn).load(events, 0)
    [(_, sql, rows), _] = conn.log
    assert 'UPDATE SET t."AMOUNT" = s."AMOUNT" WHEN NOT MATCHED' in sql and rows == [
        [1, 1, None],
        [2, 2, None],
    ]


def test_rows_are_sent_in_chunks():
    conn = RecordingConnection()
    make_loader(conn).load([ins(i, i) for i in range(5)], 0)
    assert [len(entry[2]) for entry in conn.log if entry[0] == "executemany"] == [2, 2, 1]


def test_long_values_are_bound_as_lobs():
    conn = RecordingConnection()
    make_loader(conn).load([ins(1, "x" * 5000)], 0)
    oracledb = pytest.importorskip("oracledb")
    assert ("setinputsizes", (None, oracledb.DB_TYPE_CLOB, None)) in conn.log


def test_two_way_writes_the_mark_first_in_the_same_transaction():
    conn = RecordingConnection()
    make_loader(conn, loopback_mark=True).load([ins(1, 1)], 2)
    kinds = [entry[0] for entry in conn.log]
    assert kinds == ["execute", "execute", "executemany", "commit"]
    assert conn.log[1][1].startswith('MERGE INTO "RETL"."RETL_MARK"')
    mark_id = conn.log[1][2][0]
    assert conn.log[1][2] == [mark_id, "shop", "a-to-ora"] and mark_id % 64 == 2


def test_a_missing_mark_table_is_created_or_explained():
    conn = RecordingConnection(mark_table_exists=False)
    make_loader(conn, loopback_mark=True).load([ins(1, 1)], 0)
    assert any(e[0] == "execute" and e[1].startswith('CREATE TABLE "RETL"."RETL_MARK"') for e in conn.log)
    refused = RecordingConnection(
        mark_table_exists=False,
        fail_on=("CREATE TABLE", OraError(1031, "ORA-01031: insufficient privileges")),
    )
    with pytest.raises(LoadError, match="as a DBA run: CREATE TABLE") as info:
        make_loader(refused, loopback_mark=True).load([ins(1, 1)], 0)
    assert not info.value.retryable


def test_a_refused_statement_rolls_back_and_names_table_key_and_remedy():
    conn = RecordingConnection(fail_on=("MERGE", OraError(942, "ORA-00942: table or view does not exist")))
    with pytest.raises(LoadError) as info:
        make_loader(conn).load([ins(7, 1)], 0)
    message = str(info.value)
    assert "MERGE into shop.orders" in message and "(id=7)" in message and "ORA-00942" in message
    assert "create the table" in message and not info.value.retryable
    assert conn.log[-1] == ("rollback",)


def test_a_lost_connection_is_retryable():
    conn = RecordingConnection(
        fail_on=("MERGE", OraError(3113, "ORA-03113: end-of-file on communication channel"))
    )
    with pytest.raises(LoadError) as info:
        make_loader(conn).load([ins(7, 1)], 0)
    assert info.value.retryable


def test_ddl_stops_with_the_statement_and_the_remedy():
    ddl = EventData("shop", "orders", EventType.DDL, ddl_sql="ALTER TABLE orders ADD c INT")
    with pytest.raises(
        LoadError, match=r"not translated .*ALTER TABLE orders ADD c INT.*skip_ddl: true"
    ) as info:
        make_loader(RecordingConnection()).apply_ddl(ddl)
    assert not info.value.retryable


def test_dry_run_sends_nothing():
    conn = RecordingConnection()
    assert make_loader(conn, dry_run=True).load([ins(1, 1)], 0) == 0
    assert conn.log == []


def test_a_delete_without_key_is_refused():
    with pytest.raises(LoadError, match="without key columns"):
        make_loader(RecordingConnection()).load(
            [EventData("shop", "orders", EventType.DELETE, {}, {"a": 1})], 0
        )


def test_the_loader_is_found_by_its_entry_point_and_connects_lazily():
    pair = DataMediaPair(DataMedia("shop", "orders"), DataMedia("shop", "orders"))
    loader = PipelinePlugins(Pipeline("p", "src", "ora", (pair,))).loader(TARGET)
    assert isinstance(loader, OracleLoader)
    loader.close()

"""The Oracle loader against a real database: runs only when OTTER_ORACLE_DSN=user/password@host:port/service
is set (no Oracle server can run on the test machine)."""

import datetime as dt
import os
import re
import uuid
from decimal import Decimal

import pytest

from otter_core.spi import (
    DataMedia,
    DataMediaPair,
    DataMediaSource,
    EventData,
    EventType,
    Pipeline,
    PipelineParameters,
)

DSN = os.environ.get("OTTER_ORACLE_DSN", "")
pytestmark = pytest.mark.skipif(
    not DSN, reason="no Oracle server here: set OTTER_ORACLE_DSN=user/password@host:port/service to run"
)


def live_target():
    m = re.match(r"^(?P<user>[^/]+)/(?P<password>[^@]+)@(?P<dsn>.+)$", DSN)
    assert m, "OTTER_ORACLE_DSN must look like user/password@host:port/service"
    return DataMediaSource(
        "ora",
        "oracle",
        user=m["user"],
        password=m["password"],
        options={"dsn": m["dsn"], "identifier_case": "upper"},
    )


def test_live_merge_delete_and_types_round_trip():
    from otter_oracle.dialect import Naming
    from otter_oracle.loader import OracleLoader, connect_target
    from otter_oracle.types import create_table_sql

    target = live_target()
    table = f"OTTER_LIVE_{uuid.uuid4().hex[:8]}"
    columns = [
        ("id", "bigint(20) unsigned", False),
        ("amount", "decimal(10,2)", True),
        ("f", "double", True),
        ("note", "varchar(40)", True),
        ("body", "longtext", True),
        ("raw", "varbinary(16)", True),
        ("at", "datetime(6)", True),
        ("ts", "timestamp(6)", True),
        ("d", "date", True),
        ("t", "time(6)", True),
    ]
    conn = connect_target(target)
    cur = conn.cursor()
    cur.execute(create_table_sql(Naming(), target.user, table, columns, ["id"]))
    try:
        pair = DataMediaPair(DataMedia(target.user, table), DataMedia(target.user, table))
        pipeline = Pipeline(
            "live", "src", "ora", (pair,), parameters=PipelineParameters(load_pool_size=1), channel="live"
        )
        loader = OracleLoader(target, pipeline)
        row = {
            "amount": Decimal("12.34"),
            "f": 0.1,
            "note": "é 中",
            "body": "x" * 10000,
            "raw": b"\x00\xff",
            "at": dt.datetime(2024, 2, 29, 1, 2, 3, 456789),
            "ts": dt.datetime(2038, 1, 19, 3, 14, 7, 999999, tzinfo=dt.timezone.utc),
            "d": dt.date(2020, 6, 15),
            "t": dt.timedelta(hours=-838, seconds=-1),
        }
        loader.load(
            [EventData(target.user, table, EventType.INSERT, {"id": i}, row) for i in (1, 2, 2**64 - 1)], 0
        )
        loader.load([EventData(target.user, table, EventType.INSERT, {"id": 1}, row)], 0)  # replay: no error
        loader.load(
            [
                EventData(
                    target.user,
                    table,
                    EventType.UPDATE,
                    {"id": 2},
                    {**row, "note": "new"},
                    updated=frozenset({"note"}),
                )
            ],
            0,
        )
        loader.load([EventData(target.user, table, EventType.DELETE, {"id": 1}, row)], 0)
        loader.close()
        cur.execute(
            f'SELECT "ID", "AMOUNT", "NOTE", DBMS_LOB.GETLENGTH("BODY"), "RAW", "AT", "TS", "T" '
            f'FROM "{target.user.upper()}"."{table}" ORDER BY "ID"'
        )
        rows = cur.fetchall()
        assert [(r[0], r[2]) for r in rows] == [(2, "new"), (2**64 - 1, "é 中")]
        assert rows[0][1] == Decimal("12.34") and rows[0][3] == 10000 and rows[0][4] == b"\x00\xff"
        assert rows[0][5] == row["at"] and rows[0][6] == dt.datetime(2038, 1, 19, 3, 14, 7, 999999)
        assert rows[0][7] == row["t"]
    finally:
        cur.execute(f'DROP TABLE "{target.user.upper()}"."{table}" PURGE')
        conn.close()

"""Golden tests: MySQL -> PostgreSQL type mapping (every type the MySQL selector emits), value adapters,
the SQL of every statement kind, and DDL translation."""

import datetime as dt
import ipaddress
import uuid

import pytest

from otter_core.spi import DataError
from otter_postgresql import dialect
from otter_postgresql.ddl import Untranslatable, translate
from otter_postgresql.types import adapter_for, pg_type

# the column types of plugins/otter-mysql/tests/test_selector_types.py, as information_schema writes them
TYPES = [
    ("int(11)", "integer"),
    ("int(10) unsigned", "bigint"),
    ("tinyint(4)", "smallint"),
    ("tinyint(3) unsigned", "smallint"),
    ("smallint(6)", "smallint"),
    ("smallint(5) unsigned", "integer"),
    ("mediumint(9)", "integer"),
    ("mediumint(8) unsigned", "integer"),
    ("bigint(20)", "bigint"),
    ("bigint(20) unsigned", "numeric(20,0)"),
    ("tinyint(1)", "smallint"),
    ("bool", "smallint"),
    ("decimal(65,30)", "numeric(65,30)"),
    ("decimal(10,2)", "numeric(10,2)"),
    ("decimal(5,0)", "numeric(5,0)"),
    ("decimal(20,10) unsigned", "numeric(20,10)"),
    ("decimal", "numeric(10,0)"),
    ("float", "real"),
    ("double", "double precision"),
    ("bit(1)", "bit(1)"),
    ("bit(10)", "bit(10)"),
    ("bit(64)", "bit(64)"),
    ("date", "date"),
    ("datetime(6)", "timestamp(6) without time zone"),
    ("datetime", "timestamp(0) without time zone"),
    ("datetime(3)", "timestamp(3) without time zone"),
    ("timestamp(6)", "timestamp(6) with time zone"),
    ("timestamp", "timestamp(0) with time zone"),
    ("timestamp(1)", "timestamp(1) with time zone"),
    ("time(6)", "interval(6)"),
    ("time", "interval(0)"),
    ("time(3)", "interval(3)"),
    ("time(1)", "interval(1)"),
    ("year(4)", "smallint"),
    ("year", "smallint"),
    ("char(10)", "varchar(10)"),
    ("char(0)", "varchar(1)"),
    ("varchar(300)", "varchar(300)"),
    ("tinytext", "text"),
    ("text", "text"),
    ("mediumtext", "text"),
    ("longtext", "text"),
    ("binary(8)", "bytea"),
    ("varbinary(300)", "bytea"),
    ("tinyblob", "bytea"),
    ("blob", "bytea"),
    ("mediumblob", "bytea"),
    ("longblob", "bytea"),
    ("enum('a','b''q','c,d','é','back\\\\slash')", "text"),
    ("set('x','y','z')", "text"),
    ("json", "jsonb"),
    ("geometry", "bytea"),
    ("point", "bytea"),
    ("polygon", "bytea"),
    ("linestring", "bytea"),
    ("multipoint", "bytea"),
    ("multilinestring", "bytea"),
    ("multipolygon", "bytea"),
    ("geometrycollection", "bytea"),
    ("inet6", "inet"),
    ("uuid", "uuid"),
    ("inet4", "inet"),
]


@pytest.mark.parametrize("mysql, pg", TYPES, ids=[t for t, _ in TYPES])
def test_mysql_type_maps_to_postgresql(mysql, pg):
    assert pg_type(mysql) == pg


def test_an_unmappable_type_is_named():
    with pytest.raises(DataError, match=r"'vector\(3\)' has no PostgreSQL mapping.*by hand"):
        pg_type("vector(3)")


ADAPTED = [
    ("bit", 10, 5, "0000000101"),
    ("varbit", 64, 5, "101"),
    ("bool", -1, 1, True),
    ("inet", -1, bytes([10, 1, 2, 0]), "10.1.2.0"),
    ("inet", -1, ipaddress.ip_address("2001:db8::ff00:42:0").packed, "2001:db8::ff00:42:0"),
    # MariaDB stores a v1 UUID with its time groups swapped (index order); a v4-like random one as is
    (
        "uuid",
        -1,
        bytes.fromhex("a45642665544000012d3e89b123e4567"),
        uuid.UUID("123e4567-e89b-12d3-a456-426655440000"),
    ),
    ("uuid", -1, bytes.fromhex("00000000000000000000000000000000"), uuid.UUID(int=0)),
    ("jsonb", -1, {"a": [1]}, '{"a": [1]}'),
    ("text", -1, frozenset({"y", "x"}), "x,y"),
    ("text", -1, b"caf\xc3\xa9", "café"),
    ("time", -1, dt.timedelta(hours=23, seconds=59), dt.time(23, 0, 59)),
    (
        "timestamp",
        -1,
        dt.datetime(2020, 1, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        dt.datetime(2020, 1, 1, 10),
    ),
    ("date", -1, dt.date(2020, 1, 1), dt.date(2020, 1, 1)),
]


@pytest.mark.parametrize(
    "typname, typmod, value, sent", ADAPTED, ids=[f"{t}-{v!r:.30}" for t, _, v, _ in ADAPTED]
)
def test_values_are_adapted_to_the_target_column(typname, typmod, value, sent):
    assert adapter_for(typname, typmod, "error")(value) == sent


def test_plain_columns_need_no_adapter():
    assert [
        adapter_for(t, -1, "error") for t in ("int4", "int8", "numeric", "float8", "bytea", "interval")
    ] == [None] * 6


def test_zero_dates_are_refused_or_nulled_by_policy():
    with pytest.raises(DataError, match="zero date '0000-00-00' has no PostgreSQL value.*zero_dates: null"):
        adapter_for("date", -1, "error")("0000-00-00")
    assert adapter_for("timestamp", -1, "null")("2020-00-15 10:11:12") is None


def test_text_that_is_not_utf8_or_time_out_of_range_is_refused():
    with pytest.raises(DataError, match="not UTF-8 text"):
        adapter_for("text", -1, "error")(b"\xff")
    with pytest.raises(DataError, match="outside 00:00..24:00"):
        adapter_for("time", -1, "error")(dt.timedelta(hours=-1))


def test_upsert_and_delete_sql():
    assert dialect.upsert_sql("shop", "orders", ["id", "amount", "note"], ["id"], None, 2) == (
        'INSERT INTO "shop"."orders" ("id", "amount", "note") VALUES (%s, %s, %s), (%s, %s, %s) '
        'ON CONFLICT ("id") DO UPDATE SET "amount" = EXCLUDED."amount", "note" = EXCLUDED."note"'
    )
    assert dialect.upsert_sql("shop", "orders", ["id", "amount", "note"], ["id"], ["note"], 1) == (
        'INSERT INTO "shop"."orders" ("id", "amount", "note") VALUES (%s, %s, %s) '
        'ON CONFLICT ("id") DO UPDATE SET "note" = EXCLUDED."note"'
    )
    assert dialect.upsert_sql("shop", "tags", ["item", "tag"], ["item", "tag"], None, 1) == (
        'INSERT INTO "shop"."tags" ("item", "tag") VALUES (%s, %s) ON CONFLICT ("item", "tag") DO NOTHING'
    )
    assert (
        dialect.delete_sql("shop", "orders", ["id"], 3)
        == 'DELETE FROM "shop"."orders" WHERE "id" IN (%s, %s, %s)'
    )
    assert dialect.delete_sql('Sh"op', "line", ["order_id", "line"], 2) == (
        'DELETE FROM "Sh""op"."line" WHERE ("order_id", "line") IN ((%s, %s), (%s, %s))'
    )


def test_rows_holding_a_unique_value_under_another_key_are_selected_locked():
    assert dialect.unique_holders_sql("shop", "u", ["code", "Zone"], ["id"], 2) == (
        'SELECT "id","code","Zone" FROM "shop"."u" WHERE ("code","Zone") IN ((%s,%s),(%s,%s)) FOR UPDATE'
    )


def test_copy_statements_stage_then_upsert():
    stage = dialect.stage_name("shop", "orders")
    assert stage.startswith("otter_stage_") and len(stage) == 20
    assert dialect.stage_table_sql(stage, "shop", "orders") == (
        f'CREATE TEMP TABLE IF NOT EXISTS "{stage}" (LIKE "shop"."orders" INCLUDING DEFAULTS) ON COMMIT DELETE ROWS'
    )
    assert dialect.copy_sql(stage, ["id", "amount"]) == f'COPY "{stage}" ("id", "amount") FROM STDIN'
    assert dialect.merge_stage_sql(stage, "shop", "orders", ["id", "amount"], ["id"], None) == (
        f'INSERT INTO "shop"."orders" ("id", "amount") SELECT "id", "amount" FROM "{stage}" '
        'ON CONFLICT ("id") DO UPDATE SET "amount" = EXCLUDED."amount"'
    )


def test_statements_stay_under_the_parameter_limit():
    assert dialect.rows_per_statement(10, 1000) == 1000
    assert dialect.rows_per_statement(100, 1000) == 655


def test_mark_statement():
    assert dialect.MARK_SQL == (
        'INSERT INTO "retl"."retl_mark" AS m (id, channel_id, channel_info, seq, gmt_modified) VALUES '
        "(%s, %s, %s, 1, clock_timestamp()) ON CONFLICT (id) DO UPDATE SET channel_id = EXCLUDED.channel_id, "
        "channel_info = EXCLUDED.channel_info, seq = m.seq + 1, gmt_modified = clock_timestamp()"
    )


DDL = [
    (
        "CREATE TABLE orders (id INT UNSIGNED NOT NULL AUTO_INCREMENT, note VARCHAR(20) DEFAULT 'it''s', "
        "at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), PRIMARY KEY (id), KEY k_at (at)) ENGINE=InnoDB",
        [
            'CREATE TABLE IF NOT EXISTS "shop"."orders" ("id" bigint NOT NULL, "note" varchar(20) DEFAULT \'it\'\'s\', '
            '"at" timestamp(6) without time zone NOT NULL DEFAULT CURRENT_TIMESTAMP, PRIMARY KEY ("id"))'
        ],
    ),
    (
        "create table if not exists `other`.`t` (`k` bigint primary key, u char(3), unique key (u))",
        [
            'CREATE TABLE IF NOT EXISTS "other"."t" ("k" bigint, "u" varchar(3), UNIQUE ("u"), PRIMARY KEY ("k"))'
        ],
    ),
    (
        "CREATE TABLE g (a INT, b BIGINT AS (a + 1) VIRTUAL, c VARCHAR(9) GENERATED ALWAYS AS (LEFT(`n`, 2)) STORED)",
        [
            'CREATE TABLE IF NOT EXISTS "shop"."g" ("a" integer, "b" bigint GENERATED ALWAYS AS (a + 1) STORED, '
            '"c" varchar(9) GENERATED ALWAYS AS (LEFT("n", 2)) STORED)'
        ],
    ),
    (
        "CREATE TABLE t2 LIKE orders",
        ['CREATE TABLE IF NOT EXISTS "shop"."t2" (LIKE "shop"."orders" INCLUDING ALL)'],
    ),
    (
        "ALTER TABLE orders ADD COLUMN qty SMALLINT UNSIGNED NOT NULL DEFAULT 0 AFTER note, DROP COLUMN old, ADD INDEX i (qty)",
        [
            'ALTER TABLE "shop"."orders" ADD COLUMN IF NOT EXISTS "qty" integer NOT NULL DEFAULT 0',
            'ALTER TABLE "shop"."orders" DROP COLUMN IF EXISTS "old"',
        ],
    ),
    (
        "ALTER TABLE orders MODIFY note VARCHAR(40) NOT NULL",
        [
            'ALTER TABLE "shop"."orders" ALTER COLUMN "note" TYPE varchar(40) USING "note"::varchar(40)',
            'ALTER TABLE "shop"."orders" ALTER COLUMN "note" SET NOT NULL',
        ],
    ),
    (
        "ALTER TABLE orders CHANGE note remark TEXT",
        [
            'ALTER TABLE "shop"."orders" RENAME COLUMN "note" TO "remark"',
            'ALTER TABLE "shop"."orders" ALTER COLUMN "remark" TYPE text USING "remark"::text',
            'ALTER TABLE "shop"."orders" ALTER COLUMN "remark" DROP NOT NULL',
        ],
    ),
    (
        "ALTER TABLE orders RENAME TO orders_old",
        ['ALTER TABLE IF EXISTS "shop"."orders" RENAME TO "orders_old"'],
    ),
    ("ALTER TABLE orders ENGINE=InnoDB", []),
    ("DROP TABLE IF EXISTS a, `b`.c", ['DROP TABLE IF EXISTS "shop"."a"', 'DROP TABLE IF EXISTS "b"."c"']),
    ("TRUNCATE TABLE orders", ['TRUNCATE "shop"."orders"']),
    (
        "RENAME TABLE a TO b, c TO d",
        ['ALTER TABLE IF EXISTS "shop"."a" RENAME TO "b"', 'ALTER TABLE IF EXISTS "shop"."c" RENAME TO "d"'],
    ),
    ("CREATE DATABASE IF NOT EXISTS shop2", ['CREATE SCHEMA IF NOT EXISTS "shop2"']),
    ("DROP DATABASE shop2", ['DROP SCHEMA IF EXISTS "shop2" CASCADE']),
    ("CREATE INDEX i ON orders (at)", []),
    ("/* comment */ DROP INDEX i ON orders", []),
]


@pytest.mark.parametrize("mysql, pg", DDL, ids=[d[:40] for d, _ in DDL])
def test_ddl_is_translated(mysql, pg):
    assert translate(mysql, "shop") == pg


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE VIEW v AS SELECT 1",
        "CREATE TABLE t AS SELECT * FROM orders",
        "ALTER TABLE orders PARTITION BY HASH(id)",
        "CREATE TABLE t (v VECTOR(3))",
        "CREATE TRIGGER x BEFORE INSERT ON t FOR EACH ROW SET @a = 1",
    ],
)
def test_untranslatable_ddl_is_named(sql):
    with pytest.raises(Untranslatable, match="translate|mapping|not translated"):
        translate(sql, "shop")


def test_a_key_on_an_expression_is_named_with_its_statement():
    """MySQL 8's functional key parts have no column name to translate: a clear error, not a TypeError."""
    with pytest.raises(Untranslatable, match=r"no column name at the start of '\(a \+ b\)'.*by hand"):
        translate("CREATE TABLE t (a INT, b INT, UNIQUE KEY u ((a + b)))", "shop")

"""One-way MariaDB -> MariaDB through the whole engine: every type, mixed workload, every row compared."""

import random

import pytest

from otter_core.testing.harness import pipeline_yaml, running, wait_caught_up

pytestmark = pytest.mark.usefixtures("clean_databases")

ALL_TYPES = """
CREATE TABLE kinds.every_type (
  id INT PRIMARY KEY,
  ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED, mi MEDIUMINT, miu MEDIUMINT UNSIGNED,
  i INT, iu INT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED,
  dec65 DECIMAL(65,30), dec11 DECIMAL(11,2), f FLOAT, d DOUBLE, b1 BIT(1), b64 BIT(64),
  dt DATE, dtm DATETIME(6), ts TIMESTAMP(6) NULL DEFAULT NULL, tm TIME(6), yr YEAR,
  ch CHAR(10), vc VARCHAR(100), tx TEXT, lat VARCHAR(50) CHARACTER SET latin1,
  bn BINARY(4), vb VARBINARY(300), bl BLOB,
  en ENUM('small','medium','large'), st SET('a','b','c','d'), js JSON,
  geo GEOMETRY, gen INT AS (i + 1) VIRTUAL, gens VARCHAR(120) AS (CONCAT(vc, '!')) STORED
) ENGINE=InnoDB
"""
COLUMNS = (
    "id, ti, tiu, si, siu, mi, miu, i, iu, bi, biu, dec65, dec11, f, d, b1, b64, dt, dtm, ts, tm, yr, "
    "ch, vc, tx, lat, bn, vb, bl, en, st, js, geo"
)
LIMIT_ROWS = [
    "(1, -128, 255, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295, -9223372036854775808, "
    "18446744073709551615, '-99999999999999999999999999999999999.999999999999999999999999999999', -999999999.99, "
    "-3.40282e38, -1.7976931348623157e308, b'1', b'1111111111111111111111111111111111111111111111111111111111111111', "
    "'1000-01-01', '1000-01-01 00:00:00.000000', '1970-01-01 00:00:01.000000', '-838:59:59.000000', 1901, "
    "'a', 'emoji 😀🐟', REPEAT('x', 1000), 'caf\\xe9 déjà', x'00010203', x'00ff80', x'00', 'small', '', '[]', "
    "ST_GeomFromText('POINT(1 2)'))",
    "(2, 127, 0, 32767, 0, 8388607, 0, 2147483647, 0, 9223372036854775807, 0, "
    "'99999999999999999999999999999999999.999999999999999999999999999999', 999999999.99, 3.40282e38, "
    "1.7976931348623157e308, b'0', b'0', '9999-12-31', '9999-12-31 23:59:59.999999', '2038-01-19 03:14:07.999999', "
    "'838:59:59.999999', 2155, 'zzzzzzzzzz', '', '', '', x'ffffffff', '', '', 'large', 'a,b,c,d', "
    "'{\"k\": [1, 2.5, \"x\", null, true]}', ST_GeomFromText('POLYGON((0 0,10 0,10 10,0 10,0 0))'))",
    "(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "
    "NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
    "(4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.1, 0.1, b'0', b'101', '0000-00-00', '0000-00-00 00:00:00', "
    "'0000-00-00 00:00:00', '00:00:00.000001', 0, ' pad', 'trailing  ', 'multi\\nline', '', x'00000000', "
    "x'000000', x'0000', 'medium', 'b,d', '{}', ST_GeomFromText('LINESTRING(0 0,1 1,2 3)'))",
]


def source_start(server):
    file, pos = server.binlog_position()
    return {"file": file, "pos": pos}


def table_rows(server, table, order="id"):
    return server.execute(f"SELECT * FROM {table} ORDER BY {order}")


def hex_rows(server, table, columns):
    cols = ", ".join(f"HEX(`{c}`)" for c in columns)
    return server.execute(f"SELECT id, {cols} FROM {table} ORDER BY id")


def create_everywhere(source, target, *ddl):
    for server in (source, target):
        server.execute("SET SESSION sql_mode=''", *ddl)


def test_every_type_survives_insert_update_delete(mariadb_source, mariadb_target, tmp_path):
    create_everywhere(mariadb_source, mariadb_target, "CREATE DATABASE kinds", ALL_TYPES)
    start = source_start(mariadb_source)
    yaml_text = pipeline_yaml(
        mariadb_source, mariadb_target, [{"source": "kinds.*", "target": "kinds.*"}], start=start
    )
    with running(yaml_text, str(tmp_path / "state")) as runner:
        mariadb_source.execute(
            "SET SESSION sql_mode=''",
            *(f"INSERT INTO kinds.every_type ({COLUMNS}) VALUES {row}" for row in LIMIT_ROWS),
        )
        mariadb_source.execute(
            "SET SESSION sql_mode=''",
            "UPDATE kinds.every_type SET vc='changed 😀', d=-0.0, js='{\"a\": 1}', st='c' WHERE id=1",
            "UPDATE kinds.every_type SET id=40 WHERE id=4",
            "DELETE FROM kinds.every_type WHERE id=2",
            f"INSERT INTO kinds.every_type ({COLUMNS}) VALUES {LIMIT_ROWS[1]}".replace("(2,", "(5,", 1),
        )
        wait_caught_up(runner, mariadb_source)
    expected = table_rows(mariadb_source, "kinds.every_type")
    assert [r[0] for r in expected] == [1, 3, 5, 40]
    assert table_rows(mariadb_target, "kinds.every_type") == expected
    exact = ["f", "d", "b64", "bn", "vb", "bl", "geo", "lat", "vc", "js", "tm", "ts", "dtm"]
    assert hex_rows(mariadb_target, "kinds.every_type", exact) == hex_rows(
        mariadb_source, "kinds.every_type", exact
    )


def test_mixed_workload_over_several_tables_leaves_equal_rows(mariadb_source, mariadb_target, tmp_path):
    ddl = [
        "CREATE DATABASE shop",
        "CREATE TABLE shop.orders (id BIGINT PRIMARY KEY, customer INT, amount DECIMAL(12,2), note VARCHAR(64), "
        "updated DATETIME(3))",
        "CREATE TABLE shop.items (order_id BIGINT, line INT, sku VARCHAR(20), qty INT, PRIMARY KEY (order_id, line))",
        "CREATE TABLE shop.tags (name VARCHAR(30) NOT NULL, weight INT, UNIQUE KEY (name))",
    ]
    create_everywhere(mariadb_source, mariadb_target, *ddl)
    start = source_start(mariadb_source)
    rng = random.Random(7)
    yaml_text = pipeline_yaml(
        mariadb_source,
        mariadb_target,
        ["shop.orders", {"source": "shop.*", "target": "shop.*"}],
        start=start,
        batch_size=300,
        parallelism=3,
        load_pool_size=3,
    )
    conn = mariadb_source.connect(autocommit=False)
    with running(yaml_text, str(tmp_path / "state")) as runner, conn.cursor() as cur:
        for txn in range(300):
            for _ in range(rng.randint(1, 8)):
                oid = rng.randint(1, 400)
                action = rng.random()
                if action < 0.5:
                    cur.execute(
                        "REPLACE INTO shop.orders VALUES (%s, %s, %s, %s, NOW(3))",
                        (oid, rng.randint(1, 50), rng.randint(0, 10**6) / 100, f"n{txn}"),
                    )
                    cur.execute(
                        "INSERT IGNORE INTO shop.items VALUES (%s, %s, %s, %s)",
                        (oid, rng.randint(1, 3), f"sku{rng.randint(1, 99)}", rng.randint(1, 9)),
                    )
                elif action < 0.75:
                    cur.execute(
                        "UPDATE shop.orders SET amount = amount + 1, note = %s WHERE id = %s",
                        (f"u{txn}", oid),
                    )
                    cur.execute("UPDATE shop.items SET qty = qty + 1 WHERE order_id = %s", (oid,))
                elif action < 0.85:
                    cur.execute(
                        "UPDATE shop.orders SET id = %s WHERE id = %s", (oid + 1000 + txn * 10000, oid)
                    )
                else:
                    cur.execute("DELETE FROM shop.orders WHERE id = %s", (oid,))
                    cur.execute("DELETE FROM shop.items WHERE order_id = %s", (oid,))
                cur.execute(
                    "INSERT INTO shop.tags VALUES (%s, 1) ON DUPLICATE KEY UPDATE weight = weight + 1",
                    (f"tag{rng.randint(1, 20)}",),
                )
            conn.commit()
        conn.close()
        wait_caught_up(runner, mariadb_source)
    for table, order in (("shop.orders", "id"), ("shop.items", "order_id, line"), ("shop.tags", "name")):
        source_rows = table_rows(mariadb_source, table, order)
        assert source_rows, table
        assert table_rows(mariadb_target, table, order) == source_rows, table

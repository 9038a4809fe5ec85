"""The schema history's DDL model against the server: every statement below is run on MariaDB and
applied to the model, and after each one the model must describe every table as information_schema does
(names, order, types, signedness, charsets, ENUM/SET labels, NULL-ability, generated, the row key)."""

from __future__ import annotations

import pytest

from otter_core.testing.mariadb import OTTER_PASSWORD, OTTER_USER, MariaDBServer
from otter_mysql import mysql_connect
from otter_mysql.schema import SchemaCache
from otter_mysql.schema_history import SchemaHistory

pytestmark = pytest.mark.usefixtures("clean_databases")

STATEMENTS = [
    "CREATE TABLE t (id INT PRIMARY KEY, a INT, b VARCHAR(10))",
    "ALTER TABLE t MODIFY b VARCHAR(10) AFTER id",
    "ALTER TABLE t ADD COLUMN z TINYINT UNSIGNED NOT NULL DEFAULT 0 FIRST, ADD c DECIMAL(10,2) AFTER a",
    "ALTER TABLE t ADD (d DATETIME(6), e ENUM('x','y''z') CHARACTER SET latin1)",
    "ALTER TABLE t DROP COLUMN a",
    "ALTER TABLE t CHANGE COLUMN b bb TEXT CHARACTER SET latin1 COLLATE latin1_bin NOT NULL",
    "ALTER TABLE t RENAME COLUMN c TO cc",
    "ALTER TABLE `shop`.`t` MODIFY COLUMN cc BIGINT UNSIGNED FIRST",
    "ALTER TABLE t DROP PRIMARY KEY, ADD UNIQUE KEY uz (z, id)",
    "ALTER TABLE t ADD PRIMARY KEY (id), ALGORITHM=COPY",
    "RENAME TABLE t TO t2",
    "ALTER TABLE t2 RENAME TO t3, ADD COLUMN g INT AS (id + 1) VIRTUAL",
    "CREATE TABLE k (a INT NOT NULL, b VARCHAR(20) NOT NULL, v JSON, s SET('p','q'), "
    "UNIQUE KEY ub (b(5)), UNIQUE KEY ua (a), KEY (v(10))) DEFAULT CHARSET=utf8mb4",
    "CREATE TABLE k2 LIKE k",
    "ALTER TABLE k2 DROP INDEX ua",
    "CREATE UNIQUE INDEX ia ON k2 (a, b)",
    "DROP INDEX ia ON k2",
    "ALTER TABLE k2 ADD COLUMN id SERIAL FIRST",
    "CREATE TABLE n (id BIGINT NOT NULL AUTO_INCREMENT, t TIMESTAMP(3) NULL DEFAULT CURRENT_TIMESTAMP(3) "
    "ON UPDATE CURRENT_TIMESTAMP(3), u BINARY(16), y YEAR, bits BIT(7), f FLOAT, dd DOUBLE PRECISION, "
    "ch NATIONAL CHAR(3), vb VARBINARY(9), bl MEDIUMBLOB, i6 INET6, uu UUID, pt POINT, "
    "PRIMARY KEY (`id`)) ENGINE=InnoDB COMMENT='n'",
    "ALTER TABLE n CONVERT TO CHARACTER SET latin1",
    "ALTER TABLE n DEFAULT CHARSET utf8mb4, ADD COLUMN w VARCHAR(3)",
    "CREATE TABLE c AS SELECT id, w, bl FROM n",
    "CREATE TABLE d (x INT) AS SELECT id FROM n",
    "DROP TABLE k, t3",
    "CREATE TABLE IF NOT EXISTS n (x INT PRIMARY KEY)",
    "TRUNCATE TABLE n",
]


def describe(table) -> list:
    return [
        (c.name, c.data_type, c.unsigned, c.charset, c.values, c.nullable, c.generated) for c in table.columns
    ] + [table.key]


def test_the_model_follows_the_server_statement_by_statement(mariadb_source: MariaDBServer) -> None:
    mariadb_source.execute("CREATE DATABASE shop DEFAULT CHARACTER SET utf8mb4")

    def connect():
        return mysql_connect.connect(
            host="127.0.0.1",
            port=mariadb_source.port,
            user=OTTER_USER,
            password=OTTER_PASSWORD,
            autocommit=True,
        )

    conn = connect()
    history = SchemaHistory()
    history.snapshot(conn, {"shop"}, ("mysql-bin.000001", 4))
    conn.close()
    cache = SchemaCache(connect)
    try:
        for statement in STATEMENTS:
            file, pos = mariadb_source.binlog_position()
            conn = connect()
            with conn.cursor() as cur:
                cur.execute("USE shop")
                cur.execute(statement)
                # the model reads the statement as the binlog has it (CREATE … SELECT is logged rewritten)
                cur.execute(f"SHOW BINLOG EVENTS IN '{file}' FROM {pos}")
                logged = [(row[4], row[5]) for row in cur.fetchall() if row[2] == "Query"]
            conn.close()
            for end, text in logged:
                text = text.split("; ", 1)[1] if text.startswith("use ") else text
                if text not in ("BEGIN", "COMMIT"):
                    assert history.on_ddl(text, "shop", (file, end))
            cache.invalidate()
            for name in ("t", "t2", "t3", "k", "k2", "n", "c", "d"):
                server = cache.find("shop", name)
                versions = history.tables.get(("shop", name), [])
                model = versions[-1][1] if versions else None
                assert not versions or versions[-1][2] is None, versions[-1][2]
                if server is None:
                    assert model is None, (statement, name)
                    continue
                assert model is not None, (statement, name)
                assert describe(model.freeze()) == describe(server), (statement, name)
    finally:
        cache.close()

"""A value of a secondary UNIQUE key moving between rows inside one batch reaches PostgreSQL: without the
loader clearing the holder first, ``ON CONFLICT (id)`` failed on it and the pipeline retried forever."""

import pytest

from otter_core.testing.harness import sync_one_transaction as sync_transaction

pytestmark = pytest.mark.usefixtures("clean_databases", "clean_postgresql")
SELECT = "SELECT id, code, note FROM shop.u ORDER BY id"


def sync_one_transaction(source, target, tmp_path, seed, statements, **parameters):
    source.execute(
        "CREATE DATABASE shop",
        "CREATE TABLE shop.u (id INT PRIMARY KEY, code INT NOT NULL, "
        "note VARCHAR(20), UNIQUE KEY by_code (code))",
        *seed,
    )
    target.execute(
        "CREATE SCHEMA shop",
        "CREATE TABLE shop.u (id integer PRIMARY KEY, code integer NOT NULL, "
        "note varchar(20), CONSTRAINT by_code UNIQUE (code))",
        *seed,
    )
    sync_transaction(source, target, str(tmp_path / "state"), ["shop.u"], statements, **parameters)


def test_a_value_freed_by_an_update_and_taken_by_an_insert(mariadb_source, postgresql_server, tmp_path):
    sync_one_transaction(
        mariadb_source,
        postgresql_server,
        tmp_path,
        ["INSERT INTO shop.u VALUES (1, 5, 'one')"],
        [
            "INSERT INTO shop.u VALUES (3, 30, 'three')",
            "UPDATE shop.u SET code = 6 WHERE id = 1",
            "INSERT INTO shop.u VALUES (2, 5, 'two')",
        ],
    )
    assert (
        [tuple(r) for r in postgresql_server.execute(SELECT)]
        == mariadb_source.execute(SELECT)
        == [(1, 6, "one"), (2, 5, "two"), (3, 30, "three")]
    )


def test_values_reversed_over_rows_loaded_on_several_connections(mariadb_source, postgresql_server, tmp_path):
    seed = ["INSERT INTO shop.u VALUES " + ",".join(f"({i}, {i}, 'n{i}')" for i in range(1, 2001))]
    sync_one_transaction(
        mariadb_source,
        postgresql_server,
        tmp_path,
        seed,
        ["UPDATE shop.u SET code = code + 10000", "UPDATE shop.u SET code = 12001 - code"],
        batch_size=5000,
        load_pool_size=4,
    )
    assert [tuple(r) for r in postgresql_server.execute(SELECT)] == mariadb_source.execute(SELECT)

"""otter-mysql's ``otter_source_admin`` and ``otter_conflict_store``, reached the way the core reaches them:
through ``AdminPlugins`` (entry points), against a real MariaDB."""

from __future__ import annotations

import time

import pytest
from selector_support import make_source

from otter_core.errors import ConfigError
from otter_core.plugins import AdminPlugins
from otter_core.testing.mariadb import MariaDBServer

pytestmark = pytest.mark.usefixtures("clean_databases")


def test_the_admin_names_the_server_that_answers(mariadb_source: MariaDBServer):
    admin = AdminPlugins().source_admin(make_source(mariadb_source))
    assert admin is not None
    version = mariadb_source.execute("SELECT VERSION()")[0][0]
    assert admin.check_connection() == f"server {version}"


def test_a_refused_login_names_the_source_and_the_user(mariadb_source: MariaDBServer):
    admin = AdminPlugins().source_admin(make_source(mariadb_source, password="wrong"))
    assert admin is not None
    with pytest.raises(ConfigError) as info:
        admin.check_connection()
    assert f"source src (127.0.0.1:{mariadb_source.port})" in str(info.value) and "'otter'" in str(info.value)
    assert "wrong" not in str(info.value)


def test_init_db_creates_retl_and_the_time_maps_to_the_binlog_end(mariadb_source: MariaDBServer):
    mariadb_source.root_execute("DROP DATABASE IF EXISTS retl")
    admin = AdminPlugins().source_admin(make_source(mariadb_source))
    assert admin is not None
    assert admin.init_db() == "system schema `retl` ready (retl_conflict, retl_ddl, retl_mark)"
    tables = {row[0] for row in mariadb_source.execute("SHOW TABLES FROM retl")}
    assert {"retl_conflict", "retl_ddl", "retl_mark"} <= tables
    file, pos = mariadb_source.binlog_position()
    position = admin.position_at(time.time() + 3600)  # after every transaction: the binlog's end
    assert (position.file, position.pos) == (file, pos)


def test_the_conflict_store_is_empty_before_any_conflict(mariadb_source: MariaDBServer):
    mariadb_source.root_execute("DROP DATABASE IF EXISTS retl")
    store = AdminPlugins().conflict_store(make_source(mariadb_source))
    assert store is not None
    try:
        assert list(store.list(None, None, None, 10)) == [] and store.get(1) is None
    finally:
        store.close()
        store.close()  # twice is safe

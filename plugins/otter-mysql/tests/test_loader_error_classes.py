"""The MySQL loader says whether an error heals by itself: refused values, unknown tables and a wrong
password are deterministic (the pipeline stops), a lock wait, a lost connection or a target that is down
are transient (retried with backoff). Against a real MariaDB target."""

from __future__ import annotations

import socket

import attrs
import pytest
from loader_support import DB, ins, make_loader

from otter_core.spi import DETERMINISTIC, TRANSIENT, LoadError

pytestmark = pytest.mark.usefixtures("clean_databases")


@pytest.fixture
def checked(mariadb_target):
    mariadb_target.execute(
        f"CREATE DATABASE {DB}",
        f"CREATE TABLE {DB}.t (id INT PRIMARY KEY, amount INT CHECK (amount < 100), note VARCHAR(20))",
    )
    loader = make_loader(mariadb_target)
    yield loader
    loader.close()


def refused(loader, events) -> LoadError:
    with pytest.raises(LoadError) as raised:
        loader.load(events, 0)
    return raised.value


def test_a_check_constraint_is_deterministic(checked):
    error = refused(checked, [ins("t", 1, amount=500, note="x")])
    assert "(4025)" in str(error) and "id=1" in str(error) and "`lt`.`t`" in str(error)
    assert error.error_class == DETERMINISTIC and not error.retryable


def test_an_unknown_table_is_deterministic(checked):
    error = refused(checked, [ins("nosuch", 1, amount=1)])
    assert "nosuch" in str(error) and error.error_class == DETERMINISTIC


def test_a_lock_wait_timeout_is_transient(mariadb_target, checked):
    mariadb_target.execute(f"INSERT INTO {DB}.t VALUES (1, 1, 'held')")
    mariadb_target.root_execute("SET GLOBAL innodb_lock_wait_timeout = 1")
    holder = mariadb_target.connect(autocommit=False)
    try:
        with holder.cursor() as cur:
            cur.execute(f"SELECT * FROM {DB}.t WHERE id = 1 FOR UPDATE")  # held until rollback
        error = refused(make_loader(mariadb_target), [ins("t", 1, amount=2, note="mine")])
        assert "(1205)" in str(error) and error.error_class == TRANSIENT
    finally:
        holder.rollback()
        holder.close()
        mariadb_target.root_execute("SET GLOBAL innodb_lock_wait_timeout = 50")
    assert checked.load([ins("t", 1, amount=2, note="mine")], 0) == 1  # once released it loads


def test_a_target_that_is_down_is_transient_and_a_wrong_password_deterministic(mariadb_target):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    down = make_loader(mariadb_target)
    down.target = attrs.evolve(down.target, port=closed)
    error = refused(down, [ins("t", 1, amount=1)])
    assert f"127.0.0.1:{closed}" in str(error) and error.error_class == TRANSIENT
    wrong = make_loader(mariadb_target)
    wrong.target = attrs.evolve(wrong.target, password="not-the-password")
    error = refused(wrong, [ins("t", 1, amount=1)])
    assert "(1045)" in str(error) and error.error_class == DETERMINISTIC

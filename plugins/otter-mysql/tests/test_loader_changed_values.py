"""A target column that cannot hold the source's value: the loader stops with an error naming the table,
the column and the row, instead of letting the server truncate, clip or replace it (its session runs in
the replica's non-strict sql_mode, where the server only warns)."""

from __future__ import annotations

import datetime

import pytest
from loader_support import DB, dele, ins, make_loader, upd

from otter_core.spi import LoadError

pytestmark = pytest.mark.usefixtures("clean_databases")
TABLE = (
    f"CREATE TABLE {DB}.narrow (id INT PRIMARY KEY, name VARCHAR(5), u VARCHAR(10) CHARACTER SET utf8mb3, "
    "n TINYINT NOT NULL DEFAULT 0, d DATE)"
)
SELECT = f"SELECT * FROM {DB}.narrow ORDER BY id"
GOOD = {"name": "ok", "u": "ok", "n": 1, "d": datetime.date(2024, 1, 2)}


@pytest.fixture
def narrow(mariadb_target):
    mariadb_target.execute(
        f"CREATE DATABASE {DB}", TABLE, f"INSERT INTO {DB}.narrow VALUES (1, 'one', 'one', 1, NULL)"
    )
    loader = make_loader(mariadb_target)
    yield loader
    loader.close()


@pytest.mark.parametrize(
    "column, value, code",
    [
        ("name", "abcdefgh", 1265),  # longer than VARCHAR(5)
        ("u", "x\U0001f600y", 1366),  # an emoji in a utf8mb3 column
        ("n", 300, 1264),  # beyond TINYINT
        ("n", None, 1048),  # NULL into NOT NULL
        ("d", "2024-13-45", 1265),  # not a date
    ],
)
def test_a_value_the_target_would_change_stops_the_load(mariadb_target, narrow, column, value, code):
    events = [ins("narrow", 2, **GOOD), ins("narrow", 3, **{**GOOD, column: value}), ins("narrow", 4, **GOOD)]
    with pytest.raises(LoadError) as raised:
        narrow.load(events, 0)
    message = str(raised.value)
    assert f"({code})" in message and (f"'{column}'" in message or f"`{column}`" in message)
    # the server names the row ("at row 2") except for a NULL into NOT NULL: then the chunk
    assert ("chunk starting at key id=2" if code == 1048 else "row with key id=3") in message
    assert (
        "UPSERT into `lt`.`narrow`" in message
        and "widen it" in message
        and "start the pipeline again" in message
    )
    assert raised.value.error_class == "deterministic"  # a replay would be refused again: the pipeline stops
    assert mariadb_target.execute(SELECT) == [(1, "one", "one", 1, None)]  # rolled back: nothing changed


def test_an_update_join_that_would_change_a_value_stops_too(mariadb_target, narrow):
    with pytest.raises(LoadError, match=r"\(1265\).*'name'"):
        narrow.load([upd("narrow", 1, name="much too long")], 0)
    assert mariadb_target.execute(SELECT) == [(1, "one", "one", 1, None)]


def test_values_the_target_holds_as_they_are_load_without_a_warning(mariadb_target, narrow):
    assert narrow.load([ins("narrow", 2, **GOOD), upd("narrow", 1, name="uno"), dele("narrow", 9)], 0) == 3
    zero_date = ins("narrow", 5, name="abcde", u="äöü", n=127, d="0000-00-00")  # the replica accepts it too
    assert narrow.load([zero_date], 0) == 1
    assert mariadb_target.execute(SELECT) == [
        (1, "uno", "one", 1, None),
        (2, "ok", "ok", 1, datetime.date(2024, 1, 2)),
        (5, "abcde", "äöü", 127, "0000-00-00"),
    ]

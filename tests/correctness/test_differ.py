"""The harness's comparison can fail: each kind of difference a load path could make is reported with
table, key and column (real servers, no pipeline)."""

from __future__ import annotations

import pytest

from tests.correctness.catalogue import COLUMNS, KEY_SHAPES, create_table_sql
from tests.correctness.differ import compare, snapshot
from tests.correctness.workload import apply_workload

pytestmark = pytest.mark.usefixtures("clean_databases")
KEY = next(k for k in KEY_SHAPES if k.name == "composite")
ROW = {"fl": 0.1, "d": "0000-00-00", "geo": "POINT(1 2)", "js": '{"a": 1}', "l1": "é", "ins": 7}


@pytest.fixture
def same_rows(mariadb_source, mariadb_target):
    for server in (mariadb_source, mariadb_target):
        server.execute(*create_table_sql("differ", KEY))
        apply_workload(server, "differ", KEY, [[("insert", (1, "a"), ROW), ("insert", (2, "😀"), ROW)]])
    assert compare(mariadb_source, mariadb_target, "differ", KEY) == []
    return mariadb_target


@pytest.mark.parametrize(
    ("change", "column"),
    [
        ("SET fl = 0.1000001", "fl"),  # another FLOAT value, not its printed digits
        ("SET d = NULL", "d"),  # a zero date is not NULL (PyMySQL reads both as None)
        ("SET geo = POINT(1, 2.0000001)", "geo"),
        ("SET js = '{\"a\": 2}'", "js"),
        ("SET l1 = 'e'", "l1"),  # equal under the column's collation, other bytes
        ("SET ch = ''", "ch"),  # NULL on the source
    ],
)
def test_a_changed_value_is_named_with_table_key_and_column(same_rows, mariadb_source, change, column):
    same_rows.execute(f"UPDATE differ.t {change} WHERE k1 = 2")
    lines = compare(mariadb_source, same_rows, "differ", KEY)
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"differ.t key (2, '😀') column {column}: source "), lines


def test_missing_extra_and_changed_keys_are_reported(same_rows, mariadb_source):
    same_rows.execute("UPDATE differ.t SET k2 = 'A' WHERE k1 = 1")  # equal to 'a' by collation only
    lines = compare(mariadb_source, same_rows, "differ", KEY)
    assert sorted(lines) == [
        "differ.t key (1, 'A'): on the target only (not on the source)",
        "differ.t key (1, 'a'): missing on the target",
    ]


def test_a_json_number_is_read_as_stored_after_a_longer_exponent(same_rows, mariadb_source):
    """MariaDB's JSON_NORMALIZE reads the exponent of a document that is one number with ``strtol``,
    past the value's end when the text is ``utf8mb4_bin`` (a JSON column): ``-7.1e+16`` read after a
    row holding ``-7.1e+1669`` came out ``-7.1E1669`` (the soak's false alarm on ``row-c-process``)."""
    for server in (mariadb_source, same_rows):
        server.execute("UPDATE differ.t SET js = '-7.139023342954086e+1669' WHERE k1 = 1")
        server.execute("UPDATE differ.t SET js = '-7.139023342954086e+16' WHERE k1 = 2")
    js = [c.name for c in COLUMNS].index("js")
    read = {key: values[js] for key, (_, values) in snapshot(mariadb_source, "differ", KEY).items()}
    assert sorted(read.values()) == ["-7.139023342954086E16", "-7.139023342954086E1669"]
    assert compare(mariadb_source, same_rows, "differ", KEY) == []

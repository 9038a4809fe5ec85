"""position_at: a time maps to the start of the first transaction committed at or after it, across binlog files."""

from __future__ import annotations

import time

import pytest
from selector_support import make_source

from otter_core.spi import SourceError
from otter_core.testing.mariadb import MariaDBServer
from otter_mysql.binlog_time import position_at

pytestmark = pytest.mark.usefixtures("clean_databases")


def write(server: MariaDBServer, value: int) -> tuple[tuple[str, int], float, float]:
    """One committed transaction: its GTID event's position, and times just before and after it."""
    before = time.time()
    server.execute(f"INSERT INTO bt.t VALUES ({value})")
    after = time.time()
    file = server.binlog_position()[0]
    # its GTID event is the file's last (a binlog checkpoint event may land after a flush at any moment)
    gtids = [row[1] for row in server.execute(f"SHOW BINLOG EVENTS IN '{file}'") if row[2] == "Gtid"]
    return (file, gtids[-1]), before, after


@pytest.fixture
def three_files(mariadb_source: MariaDBServer) -> list[tuple[tuple[str, int], float, float]]:
    """Transactions in three binlog files, each a whole second after the one before."""
    mariadb_source.execute("CREATE DATABASE bt", "CREATE TABLE bt.t (id INT PRIMARY KEY)")
    marks = []
    for value in (1, 2, 3):
        time.sleep(1.1)
        if value > 1:
            mariadb_source.root_execute("FLUSH BINARY LOGS")
        marks.append(write(mariadb_source, value))
    return marks


def test_a_time_maps_to_the_first_transaction_at_or_after_it(mariadb_source, three_files):
    source = make_source(mariadb_source)
    first, second, third = three_files
    assert len({first[0][0], second[0][0], third[0][0]}) == 3  # three binlog files
    for earlier, later in ((first, second), (second, third)):
        # binlog timestamps are whole seconds: the later transaction's is at least int(before it), the
        # earlier one's at most int(after it), which is more than a second before
        found = position_at(source, int(later[1]))
        assert (found.file, found.pos) == later[0]
        found = position_at(source, earlier[2] + 0.05)
        assert (found.file, found.pos) == later[0]


def test_a_time_after_everything_maps_to_the_binlog_end(mariadb_source, three_files):
    before = mariadb_source.binlog_position()
    found = position_at(make_source(mariadb_source), time.time() + 3600)
    after = mariadb_source.binlog_position()  # other tests' leftovers may still write: the end in between
    assert found.file == before[0] == after[0] and before[1] <= found.pos <= after[1]
    assert found.timestamp == 0  # no transaction found


def test_a_time_before_everything_maps_to_the_oldest_transaction(mariadb_source, three_files):
    found = position_at(make_source(mariadb_source), 978307200)  # 2001-01-01
    oldest = mariadb_source.execute("SHOW BINARY LOGS")[0][0]
    assert found.file == oldest and found.timestamp > 0


@pytest.mark.parametrize(
    "grants, message",
    [
        ("SELECT", r"cannot list the binary logs as 'bt_reader'.*needs REPLICATION SLAVE"),
        ("SELECT, BINLOG MONITOR", r"cannot read binlog .* as 'bt_reader'.*needs REPLICATION SLAVE"),
    ],
)
def test_a_user_without_the_grants_gets_a_clear_error(mariadb_source, three_files, grants, message):
    mariadb_source.root_execute(
        "CREATE USER IF NOT EXISTS 'bt_reader'@'%' IDENTIFIED BY 'pw'",
        f"GRANT {grants} ON *.* TO 'bt_reader'@'%'",
    )
    try:
        with pytest.raises(SourceError, match=message):
            position_at(make_source(mariadb_source, user="bt_reader", password="pw"), time.time())
    finally:
        mariadb_source.root_execute("DROP USER 'bt_reader'@'%'")

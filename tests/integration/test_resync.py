"""The freedom door: rows written to the source's retl.retl_buffer are synced again, as in otter."""

import json
import subprocess
import sys

import pytest

from otter_core.testing.compare import rows_of
from otter_core.testing.harness import pipeline_yaml, running, wait_caught_up

pytestmark = pytest.mark.usefixtures("clean_databases")
DDL = [
    "CREATE DATABASE shop",
    "CREATE TABLE shop.orders (id INT PRIMARY KEY, note VARCHAR(20))",
    "CREATE TABLE shop.lines (order_id INT, sku VARCHAR(10), qty INT, PRIMARY KEY (order_id, sku))",
]
BUFFER = (
    "CREATE TABLE IF NOT EXISTS retl.retl_buffer (id BIGINT AUTO_INCREMENT PRIMARY KEY, table_id INT NOT NULL, "
    "full_name VARCHAR(512), type CHAR(1) NOT NULL, pk_data VARCHAR(256) NOT NULL, gmt_create TIMESTAMP NOT NULL "
    "DEFAULT CURRENT_TIMESTAMP, gmt_modified TIMESTAMP NULL)"
)


def start_of(server):
    file, pos = server.binlog_position()
    return {"file": file, "pos": pos}


@pytest.fixture
def shop(mariadb_source, mariadb_target):
    """Equal tables on both sides, then the target drifts: an edited row, a lost row, a row of its own."""
    for server in (mariadb_source, mariadb_target):
        server.execute(
            *DDL,
            "INSERT INTO shop.orders SELECT seq, CONCAT('n', seq) FROM shop.seq_1_to_50",
            "INSERT INTO shop.lines SELECT seq, CONCAT('k', seq % 3), seq FROM shop.seq_1_to_20",
        )
    mariadb_source.execute("CREATE DATABASE retl", BUFFER)  # otter's own table definition works as is
    mariadb_target.execute(
        "UPDATE shop.orders SET note = 'drift' WHERE id IN (7, 8)",
        "DELETE FROM shop.orders WHERE id = 9",
        "INSERT INTO shop.orders VALUES (500, 'target only')",
        "UPDATE shop.lines SET qty = -1 WHERE order_id = 4",
    )
    return mariadb_source, mariadb_target


def test_buffer_rows_resync_upsert_delete_and_ignore_what_is_not_ours(shop, tmp_path):
    source, target = shop
    text = pipeline_yaml(source, target, ["shop.orders", "shop.lines"], start=start_of(source))
    with running(text, str(tmp_path)) as runner:
        source.execute(
            "INSERT INTO retl.retl_buffer (table_id, full_name, type, pk_data) VALUES "
            "(0, 'shop.orders', 'I', '7'), (0, 'shop.orders', 'U', '9'), (0, 'shop.orders', 'I', '500'), "
            "(0, 'shop.orders', 'D', '10'), (0, 'shop.lines', 'I', CONCAT('4', CHAR(1), 'k1')), "
            "(0, 'other.table', 'I', '1'), (0, 'shop.orders', 'X', '11'), (0, 'shop.lines', 'I', '5')"
        )
        wait_caught_up(runner, source)
        source.execute("DELETE FROM retl.retl_buffer")  # removing requests asks for nothing
        wait_caught_up(runner, source)
    orders = dict(target.execute("SELECT id, note FROM shop.orders"))
    assert orders[7] == "n7" and orders[8] == "drift"  # 7 asked for, 8 not
    assert orders[9] == "n9"  # lost row back
    assert 500 not in orders and 10 not in orders  # gone from the source / D deletes on the target
    assert source.execute("SELECT COUNT(*) FROM shop.orders WHERE id = 10") == [(1,)]
    assert target.execute("SELECT qty FROM shop.lines WHERE order_id = 4") == [(4,)]
    rejects = [
        json.loads(line) for line in (tmp_path / "test" / "src-to-dst.rejects.jsonl").read_text().splitlines()
    ]
    reasons = sorted(r["reason"] for r in rejects)
    assert len(reasons) == 2
    assert "shop.lines has 2 key column(s)" in reasons[0] and "type 'X' of the resync request" in reasons[1]


def test_resync_command_requests_keys_and_where_through_the_source(shop, tmp_path):
    source, target = shop
    text = pipeline_yaml(source, target, ["shop.orders", "shop.lines"], start=start_of(source))
    config = tmp_path / "p.yaml"
    config.write_text(text)

    def resync(*args):
        done = subprocess.run(
            [sys.executable, "-m", "otter_core.cli", "resync", str(config), *args],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    with running(text, str(tmp_path / "state")) as runner:
        assert "3 resync request(s)" in resync("--table", "shop.orders", "--where", "id BETWEEN 6 AND 8")
        assert "1 resync request(s)" in resync("--table", "shop.lines", "--keys", "4,k1")
        assert "1 resync request(s)" in resync("--table", "shop.orders", "--keys", "500")
        wait_caught_up(runner, source)
    assert rows_of(target, "shop.orders") == [
        r for r in rows_of(source, "shop.orders") if r[0] != 9
    ]  # 9: not asked
    assert rows_of(target, "shop.lines") == rows_of(source, "shop.lines")
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "otter_core.cli",
            "resync",
            str(config),
            "--table",
            "shop.lines",
            "--keys",
            "4",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "shop.lines has 2 key column(s)" in bad.stderr

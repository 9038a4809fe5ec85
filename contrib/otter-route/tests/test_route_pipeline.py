"""route-by-region through a real pipeline: one source table split over per-region target tables."""

import pytest

from otter_core.testing.compare import rows_of
from otter_core.testing.harness import pipeline_yaml, running, wait_caught_up

pytestmark = pytest.mark.usefixtures("clean_databases")

COLUMNS = "(id INT PRIMARY KEY, region VARCHAR(8), amount INT)"


def start_of(server):
    file, pos = server.binlog_position()
    return {"file": file, "pos": pos}


def test_orders_are_split_into_one_target_table_per_region(mariadb_source, mariadb_target, tmp_path):
    mariadb_source.execute("CREATE DATABASE shop", f"CREATE TABLE shop.orders {COLUMNS}")
    mariadb_target.execute(
        "CREATE DATABASE shop", *(f"CREATE TABLE shop.orders_{r} {COLUMNS}" for r in ("eu", "us", "other"))
    )
    pair = {
        "source": "shop.orders",
        "target": "shop.*",
        "processors": ["route-by-region"],
        "processor_options": {
            "route-by-region": {
                "column": "region",
                "routes": {"eu": "orders_eu", "us": "orders_us"},
                "default": "orders_other",
            }
        },
    }
    text = pipeline_yaml(mariadb_source, mariadb_target, [pair], start=start_of(mariadb_source))
    with running(text, str(tmp_path / "state")) as runner:
        mariadb_source.execute(
            "INSERT INTO shop.orders VALUES (1, 'eu', 10), (2, 'us', 20), (3, 'eu', 30), (4, 'apac', 40), "
            "(5, NULL, 50), (6, 'us', 60)",
            "UPDATE shop.orders SET amount = amount + 1 WHERE id IN (1, 2, 4)",
            "DELETE FROM shop.orders WHERE id IN (3, 6)",
        )
        wait_caught_up(runner, mariadb_source)
    assert rows_of(mariadb_target, "shop.orders_eu") == [(1, "eu", 11)]
    assert rows_of(mariadb_target, "shop.orders_us") == [(2, "us", 21)]
    assert rows_of(mariadb_target, "shop.orders_other") == [(4, "apac", 41), (5, None, 50)]
    assert (
        mariadb_target.execute("SHOW TABLES FROM shop LIKE 'orders'") == []
    )  # nothing went to the source name

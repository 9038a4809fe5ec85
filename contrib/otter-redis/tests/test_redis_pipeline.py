"""Redis cache refresh through real pipelines: MariaDB source -> MariaDB target + Redis (after the database
load), and Redis as the only target; against a real redis-server."""

import json

import pytest
import yaml

from otter_core.testing.harness import running, wait_caught_up

pytestmark = pytest.mark.usefixtures("clean_databases", "clean_redis")
PRODUCT = "CREATE TABLE shop.product (id INT PRIMARY KEY, name VARCHAR(40), price DECIMAL(10,2), stock INT)"


def config(source, target, redis_server, with_database, weight=10):
    start = dict(zip(("file", "pos"), source.binlog_position()))
    cache = {
        **redis_server.source_config(),
        "options": {
            "tables": {
                "cache.product": {"key": "product:{id}", "value": "json", "columns": ["id", "name", "price"]},
                "cache.stock": {"key": "stock:{id}", "value": "hash", "columns": ["stock"]},
            }
        },
    }
    pairs = [
        {
            "source": "shop.product",
            "target": "cache.product",
            "target_source": "cache",
            "push_weight": weight,
        },
        {"source": "shop.product", "target": "cache.stock", "target_source": "cache", "push_weight": weight},
    ]
    if with_database:
        pairs.insert(0, {"source": "shop.product", "target": "shop.product", "push_weight": 5})
    doc = {
        "sources": {"src": source.source_config("src"), "dst": target.source_config("dst"), "cache": cache},
        "channels": [
            {
                "name": "cache",
                "pipelines": [
                    {
                        "name": "refresh",
                        "source": "src",
                        "target": "dst" if with_database else "cache",
                        "start": start,
                        "pairs": pairs,
                        "parameters": {"batch_timeout_ms": 100, "retry_backoff_ms": 100},
                    }
                ],
            }
        ],
    }
    return yaml.safe_dump(doc, sort_keys=False)


def write_changes(source):
    source.execute(
        "INSERT INTO shop.product VALUES (1, 'Lamp', 19.90, 5), (2, 'Desk', 120.00, 1), (3, 'Pen', 1.5, 0)",
        "UPDATE shop.product SET price = 17.50, stock = 4 WHERE id = 1",
        "DELETE FROM shop.product WHERE id = 2",
        "UPDATE shop.product SET id = 30 WHERE id = 3",
    )


def cache_state(client):
    products = {k.decode(): json.loads(client.get(k)) for k in sorted(client.keys("product:*"))}
    stock = {
        k.decode(): {f.decode(): v.decode() for f, v in client.hgetall(k).items()}
        for k in sorted(client.keys("stock:*"))
    }
    return products, stock


EXPECTED = (
    {
        "product:1": {"id": 1, "name": "Lamp", "price": "17.50"},
        "product:30": {"id": 30, "name": "Pen", "price": "1.50"},
    },
    {"stock:1": {"stock": "4"}, "stock:30": {"stock": "0"}},
)


def test_cache_is_refreshed_after_the_database_load(mariadb_source, mariadb_target, redis_server, tmp_path):
    mariadb_source.execute("CREATE DATABASE shop", PRODUCT)
    mariadb_target.execute("CREATE DATABASE shop")  # the target table is missing: the database load fails
    client = redis_server.client()
    text = config(mariadb_source, mariadb_target, redis_server, True)
    with running(text, str(tmp_path / "state")) as runner:
        write_changes(mariadb_source)
        # a missing table is deterministic: the pipeline stops at once, before the cache's phase
        assert runner.join(60), "the database load should have failed"
        assert "does not exist" in str(runner.failures()[0][1])
        assert client.keys("*") == [], "the cache was touched before the database load succeeded"
    mariadb_target.execute(PRODUCT)  # the operator creates the table and starts again: the batches replay
    with running(text, str(tmp_path / "state")) as runner:
        wait_caught_up(runner, mariadb_source, timeout=90)
    assert mariadb_target.execute(
        "SELECT id, name, price, stock FROM shop.product ORDER BY id"
    ) == mariadb_source.execute("SELECT id, name, price, stock FROM shop.product ORDER BY id")
    assert cache_state(client) == EXPECTED


def test_redis_as_the_only_target(mariadb_source, mariadb_target, redis_server, tmp_path):
    mariadb_source.execute("CREATE DATABASE shop", PRODUCT)
    client = redis_server.client()
    with running(
        config(mariadb_source, mariadb_target, redis_server, False), str(tmp_path / "state")
    ) as runner:
        write_changes(mariadb_source)
        wait_caught_up(runner, mariadb_source)
        mariadb_source.execute(
            "ALTER TABLE shop.product ADD COLUMN color VARCHAR(10)",
            "UPDATE shop.product SET name = 'Big lamp', color = 'red' WHERE id = 1",
        )
        wait_caught_up(runner, mariadb_source)
    products, stock = cache_state(client)
    assert products["product:1"] == {"id": 1, "name": "Big lamp", "price": "17.50"}
    assert set(products) == {"product:1", "product:30"} and stock == EXPECTED[1]


def test_a_cache_pair_loading_with_the_database_is_refused(
    mariadb_source, mariadb_target, redis_server, tmp_path
):
    mariadb_source.execute("CREATE DATABASE shop", PRODUCT)
    with running(
        config(mariadb_source, mariadb_target, redis_server, True, weight=5), str(tmp_path / "s")
    ) as runner:
        mariadb_source.execute("INSERT INTO shop.product VALUES (1, 'Lamp', 1, 1)")
        assert runner.join(timeout=60), "a misconfigured cache pair should stop the pipeline"
        [(_, error)] = runner.failures()
    assert "higher push_weight" in str(error)

"""Cache rules: key templates from columns, JSON / hash / delete values, and configuration errors."""

import datetime as dt
from decimal import Decimal

import pytest

from otter_core.spi import (
    ConfigError,
    DataError,
    DataMedia,
    DataMediaPair,
    DataMediaSource,
    EventData,
    EventType,
    Pipeline,
)
from otter_redis.loader import RedisCacheLoader, check_weights
from otter_redis.rules import encode_value, parse_rules

EVENT = EventData(
    "shop",
    "product",
    EventType.INSERT,
    {"id": 7},
    {
        "name": "Lamp",
        "price": Decimal("19.90"),
        "img": b"\x00\xff",
        "at": dt.datetime(2024, 1, 2, 3, 4, 5),
        "note": None,
        "tm": dt.timedelta(hours=-1, seconds=-1),
    },
)


def loader(tables, pairs=None):
    target = DataMediaSource("cache", "redis", port=6379, options={"tables": tables})
    pairs = pairs or (DataMediaPair(DataMedia("shop", "product"), DataMedia("shop", "product")),)
    return RedisCacheLoader(target, Pipeline("p", "src", "cache", tuple(pairs)))


def test_json_value_of_chosen_columns_under_the_templated_key():
    commands = loader(
        {
            "shop.product": {
                "key": "product:{id}",
                "columns": ["id", "name", "price", "img", "at"],
                "ttl_seconds": 60,
            }
        }
    ).commands([EVENT])
    assert commands == [
        (
            "SET",
            "product:7",
            '{"id":7,"name":"Lamp","price":"19.90","img":"AP8=","at":"2024-01-02T03:04:05"}',
            60,
        )
    ]


def test_hash_value_leaves_out_nulls_and_replaces_the_old_hash():
    commands = loader(
        {"shop.product": {"key": "p:{name}:{id}", "value": "hash", "columns": ["name", "note", "tm"]}}
    ).commands([EVENT])
    assert commands == [("DEL", "p:Lamp:7"), ("HSET", "p:Lamp:7", {"name": "Lamp", "tm": "-01:00:01.000000"})]


def test_delete_events_and_invalidate_rules_delete_the_key():
    rules = {"shop.product": {"key": "product:{id}", "value": "delete"}}
    delete = EventData("shop", "product", EventType.DELETE, {"id": 8}, {"name": "x"})
    assert loader(rules).commands([EVENT, delete]) == [("DEL", "product:7"), ("DEL", "product:8")]


def test_a_template_naming_a_missing_column_is_a_data_error():
    with pytest.raises(DataError, match=r"names column 'sku'.*fix options.tables.shop.product.key"):
        loader({"shop.product": {"key": "product:{sku}"}}).commands([EVENT])


@pytest.mark.parametrize(
    "tables, message",
    [
        ({"shop.product": {"key": "product"}}, "names no column"),
        ({"shop.product": {"key": "p:{id}", "value": "xml"}}, "expected one of json, hash, delete"),
        ({"shop.product": {"key": "p:{id}", "ttl": 5}}, "unknown key.*ttl"),
        ({"product": {"key": "p:{id}"}}, "expected 'schema.table'"),
        ({"shop.product": {"key": "p:{id", "value": "json"}}, "not a valid template"),
        (None, "expected a mapping"),
    ],
)
def test_bad_rules_name_the_option(tables, message):
    with pytest.raises(ConfigError, match=message):
        parse_rules("cache", tables)


def test_the_cache_pair_must_weigh_more_than_the_database_pair():
    db = DataMediaPair(DataMedia("shop", "product"), DataMedia("shop", "product"), push_weight=5)
    cache = DataMediaPair(
        DataMedia("shop", "product"), DataMedia("cache", "product"), target_source="cache", push_weight=5
    )
    pipeline = Pipeline("p", "src", "db", (db, cache))
    with pytest.raises(ConfigError, match="give the cache pair a higher push_weight"):
        check_weights(pipeline, "cache")
    check_weights(
        Pipeline("p", "src", "db", (db, cache.__class__(cache.source, cache.target, "cache", push_weight=9))),
        "cache",
    )


def test_values_encode_exactly():
    assert encode_value(Decimal("-0.000001")) == "-0.000001"
    assert encode_value(dt.timedelta(hours=838, minutes=59, seconds=59)) == "838:59:59.000000"
    assert encode_value(frozenset({"b", "a"})) == "a,b"

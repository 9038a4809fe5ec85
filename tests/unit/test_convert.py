"""Column type conversion: exact or refused, with the table, key, column and value named."""

import datetime
from decimal import Decimal

import pytest

from otter_core.engine.convert import convert_value
from otter_core.engine.transform import transform_event
from otter_core.errors import DataError
from otter_core.model import ColumnPair, DataMedia, DataMediaPair, EventData, EventType


def test_decimal_to_varchar_keeps_the_scale():
    assert convert_value("varchar", Decimal("12.30"), "t") == "12.30"


def test_int_to_bigint_and_datetime_to_text():
    assert convert_value("bigint", 7, "t") == 7
    assert (
        convert_value("varchar", datetime.datetime(2024, 5, 1, 8, 0, 0, 5), "t")
        == "2024-05-01 08:00:00.000005"
    )


def test_text_to_int_refuses_a_fraction_and_names_everything():
    with pytest.raises(DataError) as info:
        convert_value("int", "3.7", "shop.t (id=4) column qty")
    assert "shop.t (id=4) column qty" in str(info.value) and "'3.7'" in str(info.value)


def test_null_stays_null():
    assert convert_value("int", None, "t") is None


def test_transform_converts_the_typed_column():
    pair = DataMediaPair(
        DataMedia("shop", "t"),
        DataMedia("shop", "t2"),
        column_pairs=(ColumnPair("id", "id"), ColumnPair("price", "price_text", "varchar")),
    )
    event = EventData("shop", "t", EventType.INSERT, keys={"id": 1}, columns={"price": Decimal("9.90")})
    assert transform_event(pair, event).columns == {"price_text": "9.90"}

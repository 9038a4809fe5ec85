"""Unit tests of route-by-region: routing, the default table, options, and the wildcard-target rule."""

import re
from pathlib import Path

import pytest

from otter_core.engine.extract import Extractor
from otter_core.engine.transform import transform
from otter_core.spi import (
    ConfigError,
    DataMedia,
    DataMediaPair,
    EventData,
    EventType,
    PipelinePlugins,
    load_config_text,
)
from otter_route import RouteByColumn, UnroutableRow, processor_from_options
from otter_route.processor import otter_event_processor

ROUTES = {"routes": {"eu": "orders_eu", "us": "orders_us"}}


def order(region, kind=EventType.INSERT, order_id=1):
    return EventData("shop", "orders", kind, keys={"id": order_id}, columns={"region": region, "amount": 5})


def wildcard_pair(**extra):
    return DataMediaPair(DataMedia("shop", "orders"), DataMedia("shop", "*"), **extra)


def test_rows_go_to_the_table_of_their_region():
    processor = processor_from_options(ROUTES, wildcard_pair())
    assert processor.process(order("eu")).table == "orders_eu"
    assert processor.process(order("us")).table == "orders_us"


def test_only_the_table_changes():
    original = order("eu", EventType.UPDATE)
    routed = processor_from_options(ROUTES, wildcard_pair()).process(original)
    assert (routed.schema, routed.event_type, routed.keys, routed.columns) == (
        original.schema,
        original.event_type,
        original.keys,
        original.columns,
    )


def test_delete_is_routed_by_the_deleted_rows_values():
    processor = processor_from_options(ROUTES, wildcard_pair())
    assert processor.process(order("us", EventType.DELETE)).table == "orders_us"


def test_unknown_and_null_values_go_to_the_default_table():
    processor = processor_from_options({**ROUTES, "default": "orders_other"}, wildcard_pair())
    assert processor.process(order("apac")).table == "orders_other"
    assert processor.process(order(None)).table == "orders_other"


def test_without_default_an_unknown_value_is_an_error_that_retrying_cannot_fix():
    processor = processor_from_options(ROUTES, wildcard_pair())
    with pytest.raises(UnroutableRow, match="no route for region='apac'") as info:
        processor.process(order("apac"))
    assert info.value.retryable is False


def test_another_column_and_bytes_values():
    processor = processor_from_options({"column": "country", "routes": {"DE": "orders_de"}}, wildcard_pair())
    event = EventData("shop", "orders", EventType.INSERT, keys={"id": 1}, columns={"country": b"DE"})
    assert processor.process(event).table == "orders_de"


def test_a_key_column_can_route():
    processor = processor_from_options({"column": "id", "routes": {"1": "orders_first"}}, wildcard_pair())
    assert processor.process(order("eu")).table == "orders_first"


def test_a_missing_column_is_named():
    processor = processor_from_options({"column": "zone", **ROUTES}, wildcard_pair())
    with pytest.raises(UnroutableRow, match="no column 'zone'"):
        processor.process(order("eu"))


def test_a_fixed_target_table_is_refused():
    pair = DataMediaPair(DataMedia("shop", "orders"), DataMedia("shop", "orders_all"))
    with pytest.raises(ConfigError, match="fixed table.*'shop.\\*'"):
        processor_from_options(ROUTES, pair)


@pytest.mark.parametrize(
    "options, message",
    [
        ({}, "'routes' must map"),
        ({"routes": {}}, "'routes' must map"),
        ({**ROUTES, "defualt": "x"}, "unknown option.*defualt"),
    ],
)
def test_bad_options_are_config_errors(options, message):
    with pytest.raises(ConfigError, match=message):
        processor_from_options(options, wildcard_pair())


def test_hook_answers_only_to_its_name():
    assert isinstance(
        otter_event_processor(name="route-by-region", options=ROUTES, pair=wildcard_pair()), RouteByColumn
    )
    assert otter_event_processor(name="mask", options=ROUTES, pair=wildcard_pair()) is None


def test_the_routed_source_name_passes_through_a_wildcard_target_mapping():
    """Processors run in Extract, before Transform maps names: the routed name is a source-side name that
    the pair's target then maps (here into another schema, keeping the table name)."""
    config = load_config_text("""
sources: {src: {type: mysql}, dst: {type: mysql}}
channels:
  - name: c
    pipelines:
      - name: p
        source: src
        target: dst
        pairs:
          - source: shop.orders
            target: "archive.*"
            processors: [route-by-region]
            processor_options: {route-by-region: {routes: {eu: orders_eu, us: orders_us}}}
""")
    pipeline = config.channels[0].pipelines[0]
    plugins = PipelinePlugins(pipeline)
    extractor = Extractor(pipeline, {p: plugins.event_processors(p) for p in pipeline.pairs})
    out = transform(pipeline, extractor.extract([order("eu", order_id=1), order("us", order_id=2)]))
    assert [(target, event.full_name, event.keys) for target, _, event in out] == [
        ("dst", "archive.orders_eu", {"id": 1}),
        ("dst", "archive.orders_us", {"id": 2}),
    ]


README_SKELETON = """
sources: {src: {type: mysql}, dst: {type: mysql}}
channels:
  - name: c
    pipelines:
      - name: p
        source: src
        target: dst
"""


def test_the_readme_example_loads_and_builds_the_processor():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    [block] = re.findall(r"^```yaml\n(.*?)^```", readme, re.MULTILINE | re.DOTALL)
    config = load_config_text(README_SKELETON + "".join(f"        {line}\n" for line in block.splitlines()))
    pipeline = config.channels[0].pipelines[0]
    [processor] = PipelinePlugins(pipeline).event_processors(pipeline.pairs[0])
    assert processor.routes == {"eu": "orders_eu", "us": "orders_us"} and processor.default == "orders_other"

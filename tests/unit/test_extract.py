"""Extract: processors run in pair order; a raising processor stops the pipeline or is reject-logged."""

import pytest

from otter_core.engine.extract import Extractor, ProcessorError
from otter_core.model import DataMedia, DataMediaPair, EventData, EventType, Pipeline, PipelineParameters
from otter_core.rejects import RejectLog


class Boom:
    def process(self, event):
        raise ValueError("no route for region 'apac'")


class Tag:
    def __init__(self, tag):
        self.tag = tag

    def process(self, event):
        return EventData(
            event.schema,
            event.table,
            event.event_type,
            keys=event.keys,
            columns={**event.columns, "trail": event.columns.get("trail", "") + self.tag},
        )


def setup(processors, chain, **params):
    pair = DataMediaPair(DataMedia("shop", "orders"), DataMedia("shop", "orders"), processors=processors)
    pipeline = Pipeline("p", "src", "dst", (pair,), parameters=PipelineParameters(**params))
    return pair, pipeline, chain


def event():
    return EventData("shop", "orders", EventType.INSERT, keys={"id": 9}, columns={"region": "apac"})


def test_processors_run_in_the_order_the_pair_lists_them():
    pair, pipeline, chain = setup(("a", "b"), [Tag("a"), Tag("b")])
    [(_, out)] = Extractor(pipeline, {pair: chain}).extract([event()])
    assert out.columns["trail"] == "ab"


def test_a_raising_processor_names_itself_and_the_event_and_is_not_retried():
    pair, pipeline, chain = setup(("route-by-region",), [Boom()])
    with pytest.raises(ProcessorError) as info:
        Extractor(pipeline, {pair: chain}).extract([event()])
    message = str(info.value)
    assert "'route-by-region'" in message and "shop.orders (id=9)" in message and not info.value.retryable


def test_skip_processor_exception_writes_the_event_to_the_reject_log(tmp_path):
    pair, pipeline, chain = setup(("route-by-region",), [Boom()], skip_processor_exception=True)
    rejects = RejectLog(str(tmp_path), "c", "p")
    assert Extractor(pipeline, {pair: chain}, rejects=rejects).extract([event()]) == []
    [record] = rejects.read()
    assert record["keys"] == {"id": 9} and "route-by-region" in record["reason"]


class ImagePaths:
    def resolve(self, event):
        return [f"images/{event.keys['id']}.jpg"] if event.columns.get("region") else []


def test_file_resolver_runs_in_extract_and_its_files_survive_merge_and_transform(tmp_path):
    from otter_core.engine.transform import transform
    from otter_core.load.merge import merge_events

    (tmp_path / "images").mkdir()
    (tmp_path / "images/9.jpg").write_bytes(b"jpeg")
    pair = DataMediaPair(
        DataMedia("shop", "orders"),
        DataMedia("archive", "orders"),
        file_resolver="images",
        file_resolver_options={"source_root": str(tmp_path), "target_root": str(tmp_path / "t")},
    )
    pipeline = Pipeline("p", "src", "dst", (pair,))
    extracted = Extractor(pipeline, {pair: []}, resolvers={pair: ImagePaths()}).extract([event()])
    [(_, _, out)] = transform(pipeline, extracted)
    [merged] = merge_events([out])
    assert [(f.path, f.size) for f in merged.files] == [("images/9.jpg", 4)] and merged.schema == "archive"


def test_interleaved_tables_keep_their_own_pairs_filters_and_targets():
    """Extract and Transform remember the previous event's table (a rows event's events share it): events
    that switch tables, a table with two pairs and a filtered pair must still get exactly their pairs."""
    from otter_core.engine.transform import transform

    plain = DataMediaPair(DataMedia("shop", "orders"), DataMedia("shop", "orders"))
    copy = DataMediaPair(
        DataMedia("shop", "orders"), DataMedia("shop", "orders"), target_source="archive", push_weight=7
    )
    filtered = DataMediaPair(DataMedia("shop", "items"), DataMedia("shop", "items"), filter="qty > 1")
    pipeline = Pipeline("p", "src", "dst", (plain, copy, filtered))

    def ev(table, i, qty):
        return EventData("shop", table, EventType.INSERT, keys={"id": i}, columns={"qty": qty})

    events = [ev("orders", 1, 1), ev("items", 2, 1), ev("items", 3, 5), ev("orders", 4, 1), ev("items", 5, 2)]
    extracted = Extractor(pipeline, {}).extract(events)
    assert [(pair, e.keys["id"]) for pair, e in extracted] == [
        (plain, 1),
        (copy, 1),
        (filtered, 3),
        (plain, 4),
        (copy, 4),
        (filtered, 5),
    ]
    assert [(target, weight, e.keys["id"]) for target, weight, e in transform(pipeline, extracted)] == [
        ("dst", 5, 1),
        ("archive", 7, 1),
        ("dst", 5, 3),
        ("dst", 5, 4),
        ("archive", 7, 4),
        ("dst", 5, 5),
    ]


def test_a_table_switch_costs_one_lookup_of_its_route_across_batches():
    """sysbench's OLTP batches switch tables at nearly every event (each statement picks one at random):
    a table's pairs and whether its one pair is plain are decided once per Extractor, not per switch."""
    orders = DataMediaPair(DataMedia("shop", "orders"), DataMedia("shop", "orders"))
    items = DataMediaPair(DataMedia("shop", "items"), DataMedia("shop", "items"), processors=("tag",))
    pipeline = Pipeline("p", "src", "dst", (orders, items))
    extractor = Extractor(pipeline, {items: [Tag("+")]})
    asked = []
    pairs_of = extractor.pairs_of
    extractor.pairs_of = lambda schema, table: asked.append(table) or pairs_of(schema, table)

    def ev(table, i):
        return EventData("shop", table, EventType.INSERT, keys={"id": i}, columns={"trail": ""})

    for start in (0, 10):  # two batches
        events = [ev("orders" if i % 2 else "items", start + i) for i in range(6)]
        extracted = extractor.extract(events)
        assert [(pair, e.keys["id"], e.columns["trail"]) for pair, e in extracted] == [
            (orders if i % 2 else items, start + i, "" if i % 2 else "+") for i in range(6)
        ]
    assert sorted(asked) == ["items", "orders"]

"""A processor that raises: the error names the processor and the event, and the pipeline stops."""

import time

import pytest

from otter_core.engine.extract import Extractor, ProcessorError
from otter_core.spi import DataMedia, DataMediaPair, EventData, EventType, Pipeline, Position
from otter_core.testing.harness import pipeline_yaml, running, wait_caught_up

COLUMNS = "(id INT PRIMARY KEY, region VARCHAR(8), amount INT)"


class ExplodingProcessor:
    def __init__(self):
        self.seen = []

    def process(self, event):
        self.seen.append(event)
        if event.keys["id"] == 7:
            raise RuntimeError("cannot handle order 7")
        return event


def test_extractor_names_the_processor_the_pair_and_the_event():
    pair = DataMediaPair(DataMedia("shop", "orders"), DataMedia("shop", "orders"), processors=("explode",))
    pipeline = Pipeline("p", "src", "dst", (pair,))
    processor = ExplodingProcessor()
    extractor = Extractor(pipeline, {pair: [processor]})
    events = [
        EventData(
            "shop",
            "orders",
            EventType.INSERT,
            keys={"id": i},
            columns={"region": "eu"},
            position=Position("mysql-bin.000003", 1234),
        )
        for i in (6, 7)
    ]
    with pytest.raises(ProcessorError) as info:
        extractor.extract(events)
    message = str(info.value)
    assert "ExplodingProcessor" in message and "shop.orders" in message
    assert (
        "INSERT shop.orders (id=7) at mysql-bin.000003:1234" in message and "cannot handle order 7" in message
    )
    assert isinstance(info.value.__cause__, RuntimeError)
    assert [e.keys["id"] for e in processor.seen] == [6, 7]


def route_pipeline(source, target, **parameters):
    source.execute("CREATE DATABASE shop", f"CREATE TABLE shop.orders {COLUMNS}")
    target.execute("CREATE DATABASE shop", f"CREATE TABLE shop.orders_eu {COLUMNS}")
    file, pos = source.binlog_position()
    pair = {
        "source": "shop.orders",
        "target": "shop.*",
        "processors": ["route-by-region"],
        "processor_options": {"route-by-region": {"routes": {"eu": "orders_eu"}}},
    }  # no default table
    return pipeline_yaml(source, target, [pair], start={"file": file, "pos": pos}, **parameters)


def wait_for_failure(runner, seconds):
    deadline = time.monotonic() + seconds
    while not runner.failures() and time.monotonic() < deadline:
        time.sleep(0.1)
    return runner.failures()


@pytest.mark.usefixtures("clean_databases")
def test_an_unroutable_row_stops_the_pipeline_naming_processor_and_event(
    mariadb_source, mariadb_target, tmp_path
):
    text = route_pipeline(mariadb_source, mariadb_target, retry_max=1)
    with running(text, str(tmp_path / "state")) as runner:
        mariadb_source.execute("INSERT INTO shop.orders VALUES (1, 'eu', 10)")
        wait_caught_up(runner, mariadb_source)
        mariadb_source.execute("INSERT INTO shop.orders VALUES (2, 'apac', 20)")
        failures = wait_for_failure(runner, 60)
        assert runner.join(timeout=10)
    [(_, error)] = failures
    assert isinstance(error, ProcessorError)
    message = str(error)
    assert "processor 'route-by-region' of pair shop.orders" in message and "region='apac'" in message
    assert "INSERT shop.orders (id=2)" in message
    assert mariadb_target.execute("SELECT * FROM shop.orders_eu") == [(1, "eu", 10)]


@pytest.mark.usefixtures("clean_databases")
def test_an_unroutable_row_stops_the_pipeline_with_default_retry_settings(
    mariadb_source, mariadb_target, tmp_path
):
    text = route_pipeline(mariadb_source, mariadb_target)
    with running(text, str(tmp_path / "state")) as runner:
        mariadb_source.execute("INSERT INTO shop.orders VALUES (2, 'apac', 20)")
        failures = wait_for_failure(runner, 60)
    assert failures and "route-by-region" in str(failures[0][1])

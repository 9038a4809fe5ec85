"""The selector process's pipe and the runner's load wake, waited on together (engine/select_process.py,
``ProcessSelector.poll_or_wake``): a real MariaDB source, the real child process."""

from __future__ import annotations

import time

import pytest

from otter_core.config import load_config_text
from otter_core.engine.select import LoadWake
from otter_core.engine.select_process import ProcessSelector
from otter_core.testing.harness import pipeline_yaml

pytestmark = pytest.mark.usefixtures("clean_databases")


def test_the_selector_process_wait_ends_on_a_transaction_or_on_the_load_wake(
    mariadb_source, mariadb_target, tmp_path
):
    """A transaction written to the source comes out of the wait; a set wake (a load ended) ends the wait
    with nothing, and it is not lost: the next transaction still comes in order."""
    mariadb_source.execute("CREATE DATABASE wake", "CREATE TABLE wake.t (id INT PRIMARY KEY, v INT)")
    config = load_config_text(pipeline_yaml(mariadb_source, mariadb_target, ["wake.t"]))
    pipeline = config.channels[0].pipelines[0]
    selector = ProcessSelector(pipeline, config.sources[pipeline.source])
    wake = LoadWake()
    try:
        selector.start(None)
        mariadb_source.execute("INSERT INTO wake.t VALUES (1, 10)")
        got = None
        for _ in range(600):  # the wait returns None only when woken; no wake is set here
            got = selector.poll_or_wake(0.1, wake)
            if got is not None and got.events:
                break
        assert got is not None and [e.keys for e in got.events] == [{"id": 1}]
        wake.set()
        asked = time.monotonic()
        assert selector.poll_or_wake(120.0, wake) is None
        assert time.monotonic() - asked < 60  # woken (a liveness bound, not a speed one): not the 120 s
        wake.clear()
        mariadb_source.execute("INSERT INTO wake.t VALUES (2, 20)")
        nxt = None
        for _ in range(600):
            nxt = selector.poll_or_wake(0.1, wake)
            if nxt is not None and nxt.events:
                break
        assert nxt is not None and [e.keys for e in nxt.events] == [{"id": 2}]
        assert (nxt.position.file, nxt.position.pos) > (got.position.file, got.position.pos)
    finally:
        selector.close()
        wake.close()

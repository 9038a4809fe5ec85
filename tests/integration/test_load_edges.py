"""The two ends of an initial load, which every ``otter-run load`` pays whatever the tables' size: its
chunk reader boots beside the selector process, and once every chunk is emitted the select thread waits
only briefly between looks at the acks, so the load is seen done (and ``--exit-when-done`` exits) soon
after the last one. Real MariaDB servers, the real selector and chunk reader processes."""

import multiprocessing

import pytest
import yaml

from otter_core.config import load_config_text
from otter_core.engine.select_process import ProcessSelector
from otter_core.engine.snapshot import EXHAUSTED_CHECK_SECONDS
from otter_core.engine.snapshot_state import request_snapshot
from otter_core.runner import Runner
from otter_core.testing.harness import pipeline_yaml, running, wait_caught_up
from tests.integration.test_snapshot import assert_same_tables, create_shop, load_yaml, wait_for_load

pytestmark = pytest.mark.usefixtures("clean_databases")


def spy_on_selector_start(monkeypatch) -> list[list[str]]:
    """The names of the live child processes each time a selector process is started."""
    seen: list[list[str]] = []
    original = ProcessSelector.start

    def start(self, position):
        seen.append(sorted(p.name for p in multiprocessing.active_children()))
        return original(self, position)

    monkeypatch.setattr(ProcessSelector, "start", start)
    return seen


def test_a_requested_load_starts_its_chunk_reader_before_the_selector_process(
    mariadb_source, mariadb_target, tmp_path, monkeypatch
):
    """``otter-run load`` writes its request before the pipeline starts: the chunk reader is spawned first,
    so the two interpreters boot at the same time instead of one after the other."""
    create_shop(mariadb_source, mariadb_target, 300)
    request_snapshot(tmp_path, "test", "src-to-dst", chunk_rows=100)
    seen = spy_on_selector_start(monkeypatch)
    with running(load_yaml(mariadb_source, mariadb_target, 100), str(tmp_path)) as runner:
        assert wait_for_load(runner)["state"] == "done"
    assert seen and "snapshot-src-to-dst" in seen[0]
    assert_same_tables(mariadb_source, mariadb_target)


def test_without_a_load_no_chunk_reader_is_started(mariadb_source, mariadb_target, tmp_path, monkeypatch):
    create_shop(mariadb_source, mariadb_target, 30)
    seen = spy_on_selector_start(monkeypatch)
    file, pos = mariadb_source.binlog_position()  # the row below is written after it, whenever we start
    pairs = [{"source": "shop.*", "target": "shop.*"}]  # no ``snapshot`` section: no load at first start
    yaml_text = pipeline_yaml(mariadb_source, mariadb_target, pairs, start={"file": file, "pos": pos})
    with running(yaml_text, str(tmp_path)) as runner:
        mariadb_source.execute("INSERT INTO shop.orders VALUES (99999, 1, 2, 'after')")
        wait_caught_up(runner, mariadb_source)
    assert seen and not [name for name in seen[0] if name.startswith("snapshot-")]
    assert mariadb_target.execute("SELECT note FROM shop.orders WHERE id = 99999") == [("after",)]


def test_once_every_chunk_is_emitted_the_acks_are_looked_at_without_a_long_wait(
    mariadb_source, mariadb_target, tmp_path, monkeypatch
):
    """On an idle source nothing else wakes the select thread: a selector wait past the next ack check
    (the batch's first-transaction wait, or a longer one) would hold the load's end for that long after
    its last ack."""
    create_shop(mariadb_source, mariadb_target, 600)
    request_snapshot(tmp_path, "test", "src-to-dst", chunk_rows=100)
    store = []  # the pipeline's snapshot store, once the runner built it
    waits_awaiting_acks: list[float] = []
    original = ProcessSelector.poll

    def poll(self, timeout):
        state = store[0].state if store else None
        if state is not None and state["state"] == "running" and store[0].next_chunk_start() is None:
            waits_awaiting_acks.append(timeout)
        return original(self, timeout)

    monkeypatch.setattr(ProcessSelector, "poll", poll)
    with running(load_yaml(mariadb_source, mariadb_target, 100), str(tmp_path)) as runner:
        store.append(runner.pipelines[0].snapshot.store)
        assert wait_for_load(runner)["state"] == "done"
    assert waits_awaiting_acks, "no poll while the last acks were awaited"
    assert max(waits_awaiting_acks) <= EXHAUSTED_CHECK_SECONDS
    assert_same_tables(mariadb_source, mariadb_target)


def _load_until_done(yaml_text: str, tmp_path, monkeypatch) -> list[str]:
    """``otter-run load FILE --exit-when-done`` (its ``_load``, in this process); the child processes it
    started: the selector's and the chunk reader's, by name."""
    import argparse

    from otter_core.cli_load import _load, selected_pipelines
    from otter_core.engine.snapshot_reader import ProcessChunks

    started: list[str] = []
    for cls, name in ((ProcessSelector, "selector"), (ProcessChunks, "chunk reader")):
        original = cls.__init__

        def init(self, *args, _original=original, _name=name, **kwargs):
            started.append(_name)
            _original(self, *args, **kwargs)

        monkeypatch.setattr(cls, "__init__", init)
    config = load_config_text(yaml_text)
    args = argparse.Namespace(
        state_dir=str(tmp_path),
        tables=None,
        restart=False,
        chunk_rows=100,
        exit_when_done=True,
        progress_interval=0.1,
        quiet=True,
    )
    assert _load(args, config, selected_pipelines(config, None, None)) == 0
    return started


def test_a_load_that_exits_when_done_reads_binlog_and_chunks_in_its_own_process(
    mariadb_source, mariadb_target, tmp_path, monkeypatch
):
    """``select_process`` not set: the run ends with its load, so no child interpreter is started for it
    (docs/configuration.md); the copy is whole."""
    create_shop(mariadb_source, mariadb_target, 400)
    pairs = [{"source": "shop.*", "target": "shop.*"}]
    assert _load_until_done(pipeline_yaml(mariadb_source, mariadb_target, pairs), tmp_path, monkeypatch) == []
    assert_same_tables(mariadb_source, mariadb_target)


def test_a_load_that_exits_when_done_keeps_select_process_when_the_pipeline_sets_it(
    mariadb_source, mariadb_target, tmp_path, monkeypatch
):
    create_shop(mariadb_source, mariadb_target, 400)
    pairs = [{"source": "shop.*", "target": "shop.*"}]
    yaml_text = pipeline_yaml(mariadb_source, mariadb_target, pairs, select_process=True)
    assert sorted(_load_until_done(yaml_text, tmp_path, monkeypatch)) == ["chunk reader", "selector"]
    assert_same_tables(mariadb_source, mariadb_target)


def test_a_stop_ends_the_select_threads_wait_for_the_next_transaction_at_once(
    mariadb_source, mariadb_target, tmp_path, monkeypatch
):
    """``otter-run load --exit-when-done`` stops its pipeline as soon as the load is done. With the selector in
    the runner (that run's default; set here), the stop interrupts the select thread's wait on an idle source
    (``MySQLSelector.interrupt``) instead of waiting it out: made 30 s long here, the pipeline still ends
    within a few seconds (waited out, the runner's thread would give up on the select thread after 10 s)."""
    from otter_core.engine import select

    monkeypatch.setattr(select, "IDLE_WAIT_SECONDS", 30.0)
    create_shop(mariadb_source, mariadb_target, 300)
    request_snapshot(tmp_path, "test", "src-to-dst", chunk_rows=100)
    doc = yaml.safe_load(load_yaml(mariadb_source, mariadb_target, 100))
    doc["channels"][0]["pipelines"][0].setdefault("parameters", {})["select_process"] = False
    runner = Runner(load_config_text(yaml.safe_dump(doc)), str(tmp_path)).start()
    try:
        assert wait_for_load(runner)["state"] == "done"
        assert runner.running()
        runner.stop()
        assert runner.join(timeout=5), "the pipeline waited out the select thread's idle wait"
    finally:
        runner.stop()
        runner.join(timeout=60)
    assert not runner.failures()
    assert_same_tables(mariadb_source, mariadb_target)

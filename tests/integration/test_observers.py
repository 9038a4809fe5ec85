"""Observer hooks reach every installed plugin (issue 19): a plugin registered only under the
``otter.observers`` entry-point namespace, never named by the YAML, sees each loaded batch and each
failed load of a real pipeline."""

import sys
import textwrap

import pytest

from otter_core import plugins
from otter_core.config import load_config_text
from otter_core.runner import Runner
from otter_core.testing.harness import pipeline_yaml, running, wait_caught_up

pytestmark = pytest.mark.usefixtures("clean_databases")
TABLE = "CREATE TABLE shop.t (id INT PRIMARY KEY, amount INT)"
OBSERVER = """
from otter_core.spi import hookimpl

CALLS = []


@hookimpl
def otter_batch_loaded(pipeline, batch, rows, seconds):
    CALLS.append(("loaded", pipeline.name, batch.process_id, rows, len(batch.events)))


@hookimpl
def otter_load_failed(pipeline, batch, error, events):
    CALLS.append(("failed", pipeline.name, batch.process_id, str(error), [dict(e.keys) for e in events]))
"""


@pytest.fixture
def observer(tmp_path, monkeypatch):
    """An installed distribution whose only entry point is an observer (a dist-info on sys.path)."""
    root = tmp_path / "site"
    root.mkdir()
    (root / "otter_test_observer.py").write_text(textwrap.dedent(OBSERVER))
    info = root / "otter_test_observer-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: otter-test-observer\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[otter.observers]\nrecorder = otter_test_observer\n")
    monkeypatch.syspath_prepend(str(root))
    plugins.forget_observers()
    import otter_test_observer

    yield otter_test_observer.CALLS
    plugins.forget_observers()
    sys.modules.pop("otter_test_observer", None)


def start_of(server):
    file, pos = server.binlog_position()
    return {"file": file, "pos": pos}


def test_an_installed_observer_sees_every_loaded_batch(mariadb_source, mariadb_target, tmp_path, observer):
    mariadb_source.execute("CREATE DATABASE shop", TABLE)
    mariadb_target.execute("CREATE DATABASE shop", TABLE)
    text = pipeline_yaml(mariadb_source, mariadb_target, ["shop.t"], start=start_of(mariadb_source))
    assert "otter_test_observer" not in text  # the YAML names no observer
    with running(text, str(tmp_path / "state")) as runner:
        for i in range(1, 6):
            mariadb_source.execute(f"INSERT INTO shop.t VALUES ({i}, {i})")
        wait_caught_up(runner, mariadb_source)
        pipeline = runner.pipelines[0].pipeline.name
    loaded = [call for call in observer if call[0] == "loaded"]
    assert loaded and all(call[1] == pipeline for call in loaded)
    assert sum(call[3] for call in loaded) == 5  # every row, counted once
    ids = [call[2] for call in loaded]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)  # in processId order, each batch once
    assert not [call for call in observer if call[0] == "failed"]


def test_an_installed_observer_sees_a_failed_load(mariadb_source, mariadb_target, tmp_path, observer):
    mariadb_source.execute("CREATE DATABASE shop", TABLE)
    mariadb_target.execute(
        "CREATE DATABASE shop", "CREATE TABLE shop.t (id INT PRIMARY KEY, amount INT CHECK (amount < 100))"
    )
    text = pipeline_yaml(mariadb_source, mariadb_target, ["shop.t"], start=start_of(mariadb_source))
    runner = Runner(load_config_text(text), str(tmp_path / "state")).start()
    try:
        mariadb_source.execute("INSERT INTO shop.t VALUES (7, 500)")  # the target refuses it: deterministic
        assert runner.join(90), f"the pipeline did not stop: {runner.status()}"
        [(_, error)] = runner.failures()
    finally:
        runner.stop()
        runner.join(10)
    failed = [call for call in observer if call[0] == "failed"]
    assert len(failed) == 1
    _, pipeline, _, message, keys = failed[0]
    assert pipeline == runner.pipelines[0].pipeline.name
    assert "(4025)" in message and message in str(error)  # the load's own error, before positions were added
    assert keys == [{"id": 7}]
    assert not [call for call in observer if call[0] == "loaded"]

"""The chunk reader process's start-up: what it imports is paid at every initial load (spawn start
method: a fresh interpreter), so it imports only what reading chunks needs. Against real MariaDB servers."""

import subprocess
import sys

import pytest

from otter_core.config import load_config_text
from otter_core.engine.snapshot_reader import ProcessChunks
from otter_core.testing.harness import pipeline_yaml

# Never used by a chunk reader: the YAML parser and config reader (the pipeline arrives pickled), file sync
# and verify (~15 ms of CPU at each start).
NOT_NEEDED = (
    "yaml.",
    "otter_core.config",
    "otter_core.files.stage",
    "otter_core.files.fetch",
    "otter_core.files.guard",
    "otter_core.verify",
)


@pytest.fixture
def launched_like_otter_run(monkeypatch):
    """A spawned process first re-imports its parent's ``__main__`` script: under otter-run that is
    ``otter_core.cli`` (checked below), under pytest ``_pytest.config``, which imports ``importlib.metadata``.
    Without a main script path the child imports only what the reader itself needs, which is measured here."""
    monkeypatch.delattr(sys.modules["__main__"], "__file__", raising=False)


def test_the_otter_run_script_a_reader_process_re_imports_brings_none_of_it(tmp_path):
    """What the reader process re-imports from otter-run's console script (``from otter_core.cli import
    main``): no entry-point machinery, no YAML, no config reader, no file sync."""
    probe = "import sys\nimport otter_core.cli\nprint('\\n'.join(sys.modules))\n"
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=True
    )
    modules = done.stdout.split()
    assert "otter_core.cli" in modules
    unwanted = ("stevedore", "importlib.metadata", *NOT_NEEDED)
    assert [m for m in modules if m == "yaml" or m.startswith(unwanted)] == []


@pytest.mark.usefixtures("clean_databases", "launched_like_otter_run")
def test_the_chunk_reader_process_imports_the_plugin_its_runner_found(mariadb_source, mariadb_target):
    """The runner resolved the selector's entry point; the reader process imports that module directly:
    no stevedore, no ``importlib.metadata`` scan of every installed distribution (~20 ms at each start)."""
    from otter_core.plugins import PipelinePlugins

    config = load_config_text(
        pipeline_yaml(mariadb_source, mariadb_target, [{"source": "shop.*", "target": "shop.*"}])
    )
    pipeline = config.channels[0].pipelines[0]
    PipelinePlugins(pipeline).selector(config.sources[pipeline.source])  # as the runner does first
    chunks = ProcessChunks(pipeline, config.sources[pipeline.source])
    try:
        assert chunks.tables() is not None  # the plugin was loaded and answers
        modules = chunks.imported_modules()
    finally:
        chunks.close()
    assert "otter_mysql.plugin" in modules
    assert [m for m in modules if m.startswith(("stevedore", "importlib.metadata"))] == []


@pytest.mark.usefixtures("clean_databases", "launched_like_otter_run")
def test_the_chunk_reader_process_imports_no_yaml_and_no_file_sync(mariadb_source, mariadb_target):
    source, target = mariadb_source, mariadb_target
    source.execute("CREATE DATABASE shop", "CREATE TABLE shop.t (id INT PRIMARY KEY, v VARCHAR(10))")
    source.execute("INSERT INTO shop.t VALUES (1, 'a'), (2, 'b')")
    config = load_config_text(pipeline_yaml(source, target, [{"source": "shop.*", "target": "shop.*"}]))
    pipeline = config.channels[0].pipelines[0]
    chunks = ProcessChunks(pipeline, config.sources[pipeline.source])
    try:
        assert ("shop", "t") in [tuple(t) for t in chunks.tables()]  # the reader works: a real query
        modules = chunks.imported_modules()
    finally:
        chunks.close()
    assert "otter_mysql.table_reader" in modules and "pymysql" in modules  # what it needs is there
    assert [m for m in modules if m == "yaml" or m.startswith(NOT_NEEDED)] == []

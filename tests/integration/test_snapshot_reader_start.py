"""The chunk reader process's start-up: what it imports is paid at every initial load (spawn start
method: a fresh interpreter), so it imports only what reading chunks needs. Against real MariaDB servers."""

import pytest

from otter_core.config import load_config_text
from otter_core.engine.snapshot_reader import ProcessChunks
from otter_core.testing.harness import pipeline_yaml

pytestmark = pytest.mark.usefixtures("clean_databases")

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

"""The selector process's start: the runner resolves the selector's plugin first and hands its entry point to
the child, which then imports that module directly instead of scanning every installed distribution's
entry points (stevedore, ``importlib.metadata``: ~20 ms of each start). A real MariaDB source, the real
child process."""

from __future__ import annotations

import attrs
import pytest

from otter_core import plugins
from otter_core.config import load_config_text
from otter_core.engine.select_process import ProcessSelector
from otter_core.testing.harness import pipeline_yaml

pytestmark = pytest.mark.usefixtures("clean_databases")


def _pipeline(source, target):
    config = load_config_text(pipeline_yaml(source, target, [{"source": "shop.*", "target": "shop.*"}]))
    pipeline = config.channels[0].pipelines[0]
    return pipeline, config.sources[pipeline.source]


def test_the_selector_process_is_handed_the_selector_plugin_the_runner_resolved(
    mariadb_source, mariadb_target, monkeypatch
):
    monkeypatch.setattr(plugins, "_resolved", {})  # nothing resolved in this process yet
    pipeline, source = _pipeline(mariadb_source, mariadb_target)
    handed: list[dict] = []
    resolve = ProcessSelector._entry_points
    monkeypatch.setattr(
        ProcessSelector, "_entry_points", lambda self: handed.append(resolve(self)) or handed[-1]
    )
    selector = ProcessSelector(pipeline, source)
    try:
        selector.start(None)  # the child started with them and answered
    finally:
        selector.close()
    assert len(handed) == 1
    assert handed[0][("selector", "mysql")].split(":")[0] == "otter_mysql.plugin"


def test_a_selector_plugin_that_is_not_installed_stops_the_start_before_any_child(
    mariadb_source, mariadb_target
):
    from otter_core.errors import PluginNotFound

    pipeline, source = _pipeline(mariadb_source, mariadb_target)
    selector = ProcessSelector(attrs.evolve(pipeline, selector="no-such-selector"), source)
    try:
        with pytest.raises(PluginNotFound, match="no-such-selector"):
            selector.start(None)
        assert selector._process is None  # no child was started for nothing
    finally:
        selector.close()

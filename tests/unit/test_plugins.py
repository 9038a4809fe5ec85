"""Plugin discovery: built-ins load through entry points; a missing plugin names namespace and package."""

import pytest

from otter_core.config import load_config_text
from otter_core.errors import PluginNotFound
from otter_core.plugins import PipelinePlugins, installed_plugins, load_entry_point
from tests.unit.test_config import EXAMPLE


def pipeline():
    return load_config_text(EXAMPLE).channels[0].pipelines[0]


def test_memory_pipe_and_arbitrator_come_from_entry_points(tmp_path):
    plugins = PipelinePlugins(pipeline())
    pipe = plugins.pipe()
    key = pipe.put(["batch"])
    assert pipe.get(key) == ["batch"]
    assert plugins.arbitrator("shop", str(tmp_path)).acked_position() is None


def test_unknown_selector_names_namespace_and_package():
    with pytest.raises(PluginNotFound) as info:
        load_entry_point("selector", "oracle")
    message = str(info.value)
    assert "otter.selectors" in message and "'oracle'" in message and "pip install otter-oracle" in message


def test_unknown_unlisted_plugin_says_how_to_find_one():
    with pytest.raises(PluginNotFound, match="otter-run plugins"):
        load_entry_point("processor", "no-such-processor")


def test_an_entry_point_given_by_the_parent_is_imported_and_a_stale_one_is_looked_up_again():
    """A child process imports the module its parent resolved; one that no longer imports is looked up
    among the installed entry points (here: none), and the error names the namespace as always."""
    from otter_core import plugins

    plugins.use_entry_points({("pipe", "given"): "otter_core.builtin.memory_pipe"})
    plugins.use_entry_points({("selector", "oracle"): "no_such_module_anywhere"})
    try:
        assert load_entry_point("pipe", "given") is plugins._import_value("otter_core.builtin.memory_pipe")
        with pytest.raises(PluginNotFound, match="otter.selectors"):
            load_entry_point("selector", "oracle")
        assert ("selector", "oracle") not in plugins.resolved_entry_points()
    finally:
        plugins._resolved.pop(("pipe", "given"), None)


def test_every_hookspec_has_a_docstring():
    import inspect

    from otter_core import hookspecs

    specs = [f for name, f in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("otter_")]
    assert len(specs) >= 8 and all(len((f.__doc__ or "").strip()) > 40 for f in specs)


def test_installed_plugins_lists_builtins():
    names = {(row["kind"], row["name"]) for row in installed_plugins()}
    assert {("pipe", "memory"), ("arbitrator", "memory")} <= names


def test_every_hook_is_documented_in_the_plugin_guide():
    import inspect
    from pathlib import Path

    from otter_core import hookspecs

    guide = (Path(__file__).parents[2] / "docs" / "plugins.md").read_text()
    hooks = [
        name for name, _ in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("otter_")
    ]
    assert [h for h in hooks if f"### {h}" not in guide] == []

"""The versioned store: push validates and numbers versions, activate swaps the pointer, the store
refuses directories other users could write code into; the otter-dynamic command drives it."""

import os

import pytest

from otter_core.spi import ConfigError, DataMedia, DataMediaPair, EventData, EventType
from otter_dynamic import DynamicStore, InvalidSource
from otter_dynamic.cli import main
from otter_dynamic.plugin import DynamicHook

V1 = "def process(event):\n    return event\n"
V2 = (
    "import attrs\n\ndef process(event):\n    return attrs.evolve(event, columns={**event.columns, 'v': 2})\n"
)
PAIR = DataMediaPair(DataMedia("shop", "orders"), DataMedia("shop", "orders"), processors=("dynamic",))


def test_push_numbers_versions_and_activate_moves_the_pointer(tmp_path):
    store = DynamicStore(tmp_path / "store")
    assert store.push("fx", "processor", V1, author="ann", comment="first") == 1
    assert store.push("fx", "processor", V2, author="bob") == 2
    assert store.active_version("fx") is None
    store.activate("fx", 2)
    versions = store.versions("fx")
    assert [(v.version, v.author, v.active) for v in versions] == [(1, "ann", False), (2, "bob", True)]
    assert store.source("fx", 1) == V1 and store.find("fx", V2).version == 2
    assert oct(os.stat(tmp_path / "store" / "fx" / "v000002.py").st_mode & 0o777) == "0o600"


def test_an_invalid_push_stores_nothing_and_names_the_line(tmp_path):
    store = DynamicStore(tmp_path / "store")
    with pytest.raises(InvalidSource) as info:
        store.push("fx", "processor", "def process(event):\n  return (\n")
    assert info.value.problems[0].line == 2
    assert store.versions("fx") == []


def test_activating_a_missing_version_lists_the_known_ones(tmp_path):
    store = DynamicStore(tmp_path / "store")
    store.push("fx", "processor", V1)
    with pytest.raises(ConfigError, match="no version 5 .versions: 1"):
        store.activate("fx", 5)


def test_a_name_keeps_its_kind(tmp_path):
    store = DynamicStore(tmp_path / "store")
    store.push("fx", "processor", V1)
    with pytest.raises(ConfigError, match="holds a processor"):
        store.push("fx", "file_resolver", "def resolve(event):\n    return []\n")


def test_bad_names_are_refused(tmp_path):
    store = DynamicStore(tmp_path / "store")
    with pytest.raises(ConfigError, match="not valid"):
        store.push("../escape", "processor", V1)


def test_a_store_other_users_can_write_is_refused(tmp_path):
    root = tmp_path / "store"
    root.mkdir()
    os.chmod(root, 0o777)
    with pytest.raises(ConfigError, match="writable by other users.*chmod go-w"):
        DynamicStore(root)


def test_yaml_source_seeds_the_store_once(tmp_path):
    options = {"name": "fx", "store": str(tmp_path / "store"), "source": V2}
    hook = DynamicHook("processor", options, PAIR)
    store = hook.store
    assert store.active_version("fx") == 1
    store.push("fx", "processor", V1, activate=True)  # an administrator swaps in another version
    DynamicHook("processor", options, PAIR)  # a restart with the same YAML keeps the admin's choice
    assert store.active_version("fx") == 2 and len(store.versions("fx")) == 2


def test_a_hook_swaps_only_when_asked_for_a_batch(tmp_path):
    store = DynamicStore(tmp_path / "store")
    store.push("fx", "processor", V1, activate=True)
    hook = DynamicHook("processor", {"name": "fx", "store": str(tmp_path / "store")}, PAIR)
    event = EventData("shop", "orders", EventType.INSERT, {"id": 1}, {"v": 0})
    batch_one = hook.for_batch()
    store.push("fx", "processor", V2, activate=True)
    assert batch_one.process(event).columns["v"] == 0  # the batch in progress keeps its version
    assert hook.for_batch().process(event).columns["v"] == 2
    assert store.loaded("fx")["version"] == 2


def test_a_version_that_fails_to_compile_is_not_swapped_in(tmp_path):
    store = DynamicStore(tmp_path / "store")
    store.push("fx", "processor", V1, activate=True)
    hook = DynamicHook("processor", {"name": "fx", "store": str(tmp_path / "store")}, PAIR)
    store.push(
        "fx",
        "processor",
        "import no_such_module_here\n\ndef process(event):\n    return None\n",
        activate=True,
    )
    assert hook.for_batch().version == 1
    loaded = store.loaded("fx")
    assert loaded["version"] == 1 and "v2" in loaded["error"] and "line 1" in loaded["error"]


def test_a_pinned_version_never_swaps(tmp_path):
    store = DynamicStore(tmp_path / "store")
    store.push("fx", "processor", V1, activate=True)
    hook = DynamicHook("processor", {"name": "fx", "store": str(tmp_path / "store"), "version": 1}, PAIR)
    store.push("fx", "processor", V2, activate=True)
    assert hook.for_batch().version == 1


def test_inline_source_without_a_store_runs_as_written():
    hook = DynamicHook("processor", {"source": V2}, PAIR)
    event = EventData("shop", "orders", EventType.INSERT, {"id": 1}, {"v": 0})
    assert hook.for_batch().process(event).columns["v"] == 2


def test_unknown_options_are_named():
    with pytest.raises(ConfigError, match="unknown option.*sorce"):
        DynamicHook("processor", {"sorce": V1}, PAIR)


def test_cli_validate_push_activate_list(tmp_path, capsys):
    good, bad = tmp_path / "good.py", tmp_path / "bad.py"
    good.write_text(V2)
    bad.write_text("def process(event):\n    return event +\n")
    store = str(tmp_path / "store")
    assert main(["validate", str(bad)]) == 1
    assert f"{bad}:2:" in capsys.readouterr().out
    assert main(["--store", store, "push", "fx", str(good)]) == 0
    assert main(["--store", store, "push", "fx", str(good), "--activate", "--comment", "again"]) == 0
    assert main(["--store", store, "activate", "fx", "1"]) == 0
    capsys.readouterr()
    assert main(["--store", store, "list", "fx"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("* v1") and lines[1].startswith("  v2") and lines[1].endswith("again")
    assert main(["--store", store, "activate", "fx", "9"]) == 1


def test_a_version_file_other_users_can_write_is_refused(tmp_path):
    store = DynamicStore(tmp_path / "store")
    store.push("fx", "processor", V1, activate=True)
    os.chmod(tmp_path / "store" / "fx" / "v000001.py", 0o666)
    with pytest.raises(ConfigError, match="v000001.py is writable by other users.*chmod go-w"):
        store.source("fx", 1)
    with pytest.raises(ConfigError, match="writable by other users"):
        DynamicHook("processor", {"name": "fx", "store": str(tmp_path / "store")}, PAIR)


def test_a_version_file_that_is_a_symlink_is_refused(tmp_path):
    store = DynamicStore(tmp_path / "store")
    store.push("fx", "processor", V1, activate=True)
    planted = tmp_path / "elsewhere.py"
    planted.write_text(V2)
    os.chmod(planted, 0o600)
    version = tmp_path / "store" / "fx" / "v000001.py"
    version.unlink()
    os.symlink(planted, version)
    with pytest.raises(ConfigError, match="v000001.py is a symlink"):
        store.source("fx", 1)
    with pytest.raises(ConfigError, match="is a symlink"):
        DynamicHook("processor", {"name": "fx", "store": str(tmp_path / "store")}, PAIR)


def test_an_active_pointer_other_users_can_write_is_refused(tmp_path):
    store = DynamicStore(tmp_path / "store")
    store.push("fx", "processor", V1, activate=True)
    os.chmod(tmp_path / "store" / "fx" / "active", 0o646)
    with pytest.raises(ConfigError, match="active is writable by other users"):
        store.active_version("fx")

"""The import contract (issue 19): the core imports no plugin and no database driver, and plugins import
from the core only the modules listed here. Read from the source files (every ``import``, also inside
functions, and ``importlib.import_module("...")`` with a literal name), so it runs without any server.

Every core module is checked (its test support may use drivers, never plugins). ``PLUGIN_SURFACE`` is the
public surface (``otter_core.spi``) and the few modules otter-mysql's demo embeds; the manager
(otter-manager) has its own rule, ``MANAGER_CORE`` and ``MANAGER_OPTIONAL``.
"""

from __future__ import annotations

import ast
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

DRIVERS = frozenset(
    {
        "pymysql",
        "MySQLdb",
        "pymysqlreplication",
        "psycopg",
        "psycopg2",
        "oracledb",
        "cx_Oracle",
        "kazoo",
        "redis",
    }
    | {"grpc"}  # the otter-grpc plugin's transport
)
# Test support shipped with the core: may use drivers (declared in the [test] extra), never plugins.
CORE_DRIVERS_ALLOWED = ("otter_core.testing",)
# What plugins and contrib packages may import from the core: its public surface, otter_core.spi
# (docs/plugins.md), and for otter-mysql's `otter-run demo` -- an application that embeds a whole otter-run
# with throwaway servers -- the runner, the progress line and the test fixtures that start the servers.
PLUGIN_SURFACE = frozenset(
    {
        "otter_core.spi",
        "otter_core.runner",  # the demo
        "otter_core.progress",  # the demo
        "otter_core.testing.compare",  # the demo
        "otter_core.testing.mariadb",  # the demo
    }
)
# The manager (otter-manager) administers what the engine keeps, so it may import, beside otter_core.spi,
# the core's administration modules: the config reader (validates what the store keeps), channel control,
# positions, reject logs, status files, YAML with line numbers, the conflict log, position requests and
# the plugin facade (plugin names, otter_source_admin).
MANAGER_CORE = frozenset(
    {
        "otter_core.spi",
        "otter_core.config",
        "otter_core.control",
        "otter_core.state",
        "otter_core.rejects",
        "otter_core.status_file",
        "otter_core.yaml_lines",
        "otter_core.conflicts",
        "otter_core.position_request",
        "otter_core.plugins",
    }
)
# The manager's optional features use these public modules of other plugins, imported only when the
# feature is used (--zk: otter-zookeeper; pushed processors: otter-dynamic); without the plugin the feature
# says which package to install (docs/manager.md).
MANAGER_OPTIONAL = frozenset(
    {
        "otter_zookeeper.admin",
        "otter_zookeeper.layout",
        "otter_zookeeper.placement",
        "otter_dynamic",
        "otter_dynamic.store",
    }
)


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str, roots: list[Path]) -> bool:
    for root in roots:
        as_path = root.joinpath(*name.split("."))
        if as_path.with_suffix(".py").exists() or (as_path / "__init__.py").exists():
            return True
    return False


def imports_of(
    root: Path, path: Path, core_root: Path | None = None, others: Iterable[Path] = ()
) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import in ``path`` (a module under ``root``). ``from P import
    N`` names ``P.N`` when that is a module under ``root``, ``core_root`` or ``others``, else ``P``."""
    roots = [root, *([core_root] if core_root else []), *others]
    here = module_name(root, path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                full = f"{base}.{alias.name}"
                yield node.lineno, full if _is_module(full, roots) else base
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.lineno, node.args[0].value


def _within(name: str, prefixes: Iterable[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def core_violations(root: Path) -> list[str]:
    """Every import of a plugin (``otter_*`` but the core) or a driver by a core module."""
    found = []
    for path in sorted((root / "otter_core").rglob("*.py")):
        here = module_name(root, path)
        for line, name in imports_of(root, path):
            top = name.split(".")[0]
            where = f"{path.relative_to(root)}:{line} imports {name}"
            if top.startswith("otter_") and top != "otter_core":
                found.append(f"{where} (a plugin: call it through a hook in otter_core/hookspecs.py)")
            elif top in DRIVERS and not _within(here, CORE_DRIVERS_ALLOWED):
                found.append(f"{where} (a database driver: it belongs in the plugin that needs it)")
    return found


def plugin_packages(root: Path) -> list[Path]:
    """The shipped package directories of every plugin and contrib distribution (not their tests)."""
    return sorted(
        package
        for dist in [*root.glob("plugins/*"), *root.glob("contrib/*")]
        for package in dist.glob("otter_*")
        if (package / "__init__.py").exists()
    )


def plugin_violations(root: Path) -> list[str]:
    """Every import of a core module outside its package's allowance (``PLUGIN_SURFACE``, for the manager
    ``MANAGER_CORE``) by a plugin's shipped modules, and every import of another plugin by the manager
    outside ``MANAGER_OPTIONAL``."""
    found = []
    packages = plugin_packages(root)
    for package in packages:
        manager = package.name == "otter_manager"
        allowed, rule = (MANAGER_CORE, "MANAGER_CORE") if manager else (PLUGIN_SURFACE, "PLUGIN_SURFACE")
        for path in sorted(package.rglob("*.py")):
            for line, name in imports_of(package.parent, path, root, [p.parent for p in packages]):
                top = name.split(".")[0]
                where = f"{path.relative_to(root)}:{line} imports {name}"
                if top == "otter_core" and name not in allowed:
                    found.append(
                        f"{where}, not in the core's surface for it (tests/unit/test_import_contract.py {rule})"
                    )
                elif manager and top.startswith("otter_") and top not in ("otter_core", "otter_manager"):
                    if name not in MANAGER_OPTIONAL:
                        found.append(
                            f"{where}, a plugin the manager may use only as an optional feature through "
                            f"its public modules (tests/unit/test_import_contract.py MANAGER_OPTIONAL)"
                        )
    return found


def test_the_core_imports_no_plugin_and_no_driver():
    assert core_violations(ROOT) == []


def test_plugins_import_only_the_listed_core_modules():
    assert plugin_violations(ROOT) == []


def test_every_listed_core_module_exists():
    missing = [
        name
        for name in sorted(PLUGIN_SURFACE | MANAGER_CORE)
        if not (ROOT.joinpath(*name.split(".")).with_suffix(".py").exists())
        and not (ROOT.joinpath(*name.split(".")) / "__init__.py").exists()
    ]
    assert missing == []


@pytest.fixture
def core_copy(tmp_path: Path) -> Path:
    """A copy of the real core (and its plugins) in which a test may add an import."""
    shutil.copytree(ROOT / "otter_core", tmp_path / "otter_core")
    for dist, package in (("plugins/otter-mysql", "otter_mysql"), ("contrib/otter-mask", "otter_mask")):
        shutil.copytree(ROOT / dist / package, tmp_path / dist / package)
    return tmp_path


@pytest.mark.parametrize(
    "statement, kind",
    [
        ("from otter_mysql import retl", "a plugin"),
        ("import otter_zookeeper.cli", "a plugin"),
        ("importlib.import_module('otter_dynamic')", "a plugin"),
        ("import pymysql", "a database driver"),
        ("from kazoo.client import KazooClient", "a database driver"),
    ],
)
def test_an_import_added_to_the_core_breaks_the_contract(core_copy, statement, kind):
    cli = core_copy / "otter_core" / "cli.py"
    assert core_violations(core_copy) == []
    cli.write_text(cli.read_text() + f"\n\ndef _added():\n    import importlib\n\n    {statement}\n")
    found = core_violations(core_copy)
    assert len(found) == 1 and found[0].startswith("otter_core/cli.py:") and f"({kind}" in found[0]


def test_the_test_support_follows_its_own_rules(core_copy):
    testing = core_copy / "otter_core" / "testing" / "extra.py"
    testing.write_text("import psycopg\n")
    assert core_violations(core_copy) == []
    testing.write_text("import psycopg\nfrom otter_mysql import retl\n")
    assert core_violations(core_copy) == [
        "otter_core/testing/extra.py:2 imports otter_mysql (a plugin: call it through a hook in "
        "otter_core/hookspecs.py)"
    ]


def test_the_manager_follows_its_own_rule(core_copy):
    for dist, package in (("otter-manager", "otter_manager"), ("otter-zookeeper", "otter_zookeeper")):
        shutil.copytree(ROOT / "plugins" / dist / package, core_copy / "plugins" / dist / package)
    shutil.copytree(
        ROOT / "plugins/otter-dynamic/otter_dynamic", core_copy / "plugins/otter-dynamic/otter_dynamic"
    )
    assert plugin_violations(core_copy) == []
    module = core_copy / "plugins" / "otter-manager" / "otter_manager" / "extra.py"
    module.write_text("from otter_core.state import PositionStore\nfrom otter_dynamic import DynamicStore\n")
    assert plugin_violations(core_copy) == []
    module.write_text("from otter_core.engine.pipeline import PipelineRunner\nimport otter_mysql.loader\n")
    assert plugin_violations(core_copy) == [
        "plugins/otter-manager/otter_manager/extra.py:1 imports otter_core.engine.pipeline, not in the "
        "core's surface for it (tests/unit/test_import_contract.py MANAGER_CORE)",
        "plugins/otter-manager/otter_manager/extra.py:2 imports otter_mysql.loader, a plugin the manager "
        "may use only as an optional feature through its public modules "
        "(tests/unit/test_import_contract.py MANAGER_OPTIONAL)",
    ]


def test_a_plugin_importing_a_core_module_off_the_list_breaks_the_contract(core_copy):
    assert plugin_violations(core_copy) == []
    module = core_copy / "contrib" / "otter-mask" / "otter_mask" / "extra.py"
    module.write_text("from otter_core.state_lock import lock_state_dir\n")
    assert plugin_violations(core_copy) == [
        "contrib/otter-mask/otter_mask/extra.py:1 imports otter_core.state_lock, not in the core's "
        "surface for it (tests/unit/test_import_contract.py PLUGIN_SURFACE)"
    ]

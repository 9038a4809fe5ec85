"""What users install works: every package's sdist and wheel are complete and pass ``twine check``, and
the wheels installed into a fresh virtualenv (dependencies from constraints.txt) run ``otter-run`` and a
one-way sync between two throwaway MariaDB servers. The steps are those of scripts/check_dists.py."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "check_dists.py"
_spec = importlib.util.spec_from_file_location("check_dists", SCRIPT)
assert _spec is not None and _spec.loader is not None, SCRIPT
check_dists = sys.modules.setdefault("check_dists", importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(check_dists)  # registered first: its dataclasses look their module up

pytestmark = pytest.mark.timeout(900)  # builds 12 packages, installs them and starts two servers


@pytest.fixture(scope="module")
def dists(tmp_path_factory):
    out = tmp_path_factory.mktemp("dists")
    return [check_dists.build(package, out) for package in check_dists.packages()]


@pytest.fixture(scope="module")
def venv(tmp_path_factory, dists):
    return check_dists.fresh_venv(tmp_path_factory.mktemp("fresh") / "venv", dists)


def test_every_package_has_an_sdist_and_a_wheel_that_pass_twine_check(dists):
    names = {d.package.name for d in dists}
    assert {"otter-core", "otter-mysql", "otter-grpc", "otter-postgresql"} <= names
    check_dists.twine_check(dists)


def test_every_tracked_file_is_in_the_sdist_and_every_module_and_data_file_in_the_wheel(dists):
    check_dists.check_manifests(dists)
    manager = next(d for d in dists if d.package.name == "otter-manager")
    with zipfile.ZipFile(manager.wheel) as wheel:
        names = set(wheel.namelist())
    for shipped in (
        "otter_manager/web/pages_auth.py",
        "otter_manager/web/templates/login.html",
        "otter_manager/web/static/otter.css",
        "otter_manager/migrations/script.py.mako",
    ):
        assert shipped in names
    core = next(d for d in dists if d.package.name == "otter-core")
    with zipfile.ZipFile(core.wheel) as wheel:
        assert not [name for name in wheel.namelist() if name.startswith("otter_core/manager")]


def test_the_manifest_check_names_a_file_the_wheel_lacks(dists, tmp_path):
    manager = next(d for d in dists if d.package.name == "otter-manager")
    broken = tmp_path / manager.wheel.name
    with zipfile.ZipFile(manager.wheel) as source, zipfile.ZipFile(broken, "w") as target:
        for item in source.infolist():
            if not item.filename.startswith("otter_manager/web/pages_"):
                target.writestr(item, source.read(item))
    lacking = check_dists.missing_from_wheel(check_dists.Dists(manager.package, manager.sdist, broken))
    assert "otter_manager/web/pages_auth.py" in lacking


def test_the_mysql_wheel_holds_the_compiled_decoder_and_its_sdist_the_c_sources(dists):
    mysql = next(d for d in dists if d.package.name == "otter-mysql")  # scripts/install.sh installs gcc
    assert check_dists.missing_from_wheel(mysql) == []
    assert check_dists.missing_from_sdist(mysql) == []
    with zipfile.ZipFile(mysql.wheel) as wheel:
        assert any(name.startswith("otter_mysql/_rowdecode") for name in wheel.namelist())


def test_the_installed_wheels_run_otter_and_sync_two_servers(venv, dists):
    version = check_dists.otter_run(venv, "--version")
    assert version.startswith("otter-core ")
    assert "otter-mysql 0.1.0" in version
    where = check_dists.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import otter_core, otter_mysql; print(otter_core.__file__, otter_mysql.__file__)",
        ],
        cwd=venv,
        env=check_dists.outside_env(),
    )
    assert all(Path(path).is_relative_to(venv) for path in where.split()), where
    check_dists.check_installed(venv, dists)


def test_the_core_wheel_alone_runs_otter_run_without_a_plugin_or_a_database_driver(dists, tmp_path):
    """``pip install otter-core`` with nothing else: no plugin, no PyMySQL, no web framework (issue 19)."""
    core = next(d for d in dists if d.package.name == "otter-core")
    venv = tmp_path / "core-only"
    base = getattr(sys, "_base_executable", sys.executable)
    check_dists.run([base, "-m", "venv", str(venv)])
    python = str(venv / "bin" / "python")
    check_dists.run(
        [python, "-m", "pip", "install", "-q", "-c", str(check_dists.CONSTRAINTS), str(core.wheel)],
        timeout=600,
    )
    installed = check_dists.run([python, "-m", "pip", "list", "--format=freeze"], cwd=venv)
    names = {line.split("==")[0].lower() for line in installed.split()}
    assert not {"pymysql", "psycopg", "kazoo", "redis", "oracledb", "fastapi", "sqlalchemy"} & names, (
        installed
    )
    assert not [name for name in names if name.startswith("otter-") and name != "otter-core"], installed

    assert "usage: otter-run" in check_dists.otter_run(venv, "--help")
    assert check_dists.otter_run(venv, "--version").splitlines() == [
        f"otter-core {core.wheel.name.split('-')[1]}"
    ]
    listed = check_dists.otter_run(venv, "plugins")
    assert "memory" in listed and "otter-core" in listed and "broken" not in listed, listed
    run = subprocess.run(
        [str(venv / "bin" / "otter-run"), "demo"],
        cwd=venv,
        env=check_dists.outside_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2 and "pip install otter-mysql" in run.stderr, run.stdout + run.stderr
    # the manager is its own distribution, contributed through otter_cli_commands: without it the command
    # still exists and names the package to install
    helped = " ".join(check_dists.otter_run(venv, "--help").split())  # argparse wraps the help lines
    assert "the web manager (console and JSON API) (needs `pip install otter-manager`)" in helped, helped
    run = subprocess.run(
        [str(venv / "bin" / "otter-run"), "manager", "--port", "0"],
        cwd=venv,
        env=check_dists.outside_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2 and "`pip install otter-manager`" in run.stderr, run.stdout + run.stderr

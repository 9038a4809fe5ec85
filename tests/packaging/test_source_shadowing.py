"""The suite imports the installed wheels, not the source tree (see the root conftest.py), and a run that
would import the source is stopped loudly instead of passing against the wrong code."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

import otter_core
import otter_mysql

ROOT = Path(__file__).resolve().parents[2]
WHEELS = os.environ.get("OTTER_TEST_INSTALL") == "wheels"
SITE = Path(sysconfig.get_paths()["purelib"]).resolve()
needs_wheels = pytest.mark.skipif(not WHEELS, reason="OTTER_EDITABLE=1: the run is against the source tree")


@needs_wheels
def test_otter_core_and_the_plugins_come_from_site_packages():
    for module in (otter_core, otter_mysql):
        assert Path(module.__file__).resolve().is_relative_to(SITE), module.__file__


@needs_wheels
def test_python_m_pytest_from_the_repo_root_is_stopped_with_the_reason():
    env = {k: v for k, v in os.environ.items() if k != "PYTHONSAFEPATH"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "--co",
            "-q",
            "tests/packaging/test_versions.py",
        ],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, result.stdout + result.stderr
    assert f"otter_core from {ROOT / 'otter_core' / '__init__.py'}" in result.stdout + result.stderr

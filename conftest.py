"""Root conftest: the suite runs against the installed distributions, not the source tree.

``scripts/test.sh`` installs the wheels of every package and sets ``OTTER_TEST_INSTALL=wheels`` (without
the variable, the mode follows how otter-core is installed: a wheel, or editable). pytest's
default "prepend" import mode puts the repo root (tests/ is a package) on ``sys.path[0]`` before it imports
a test module, unless the root is already on ``sys.path``; from there ``otter_core`` would be imported
from the source tree and a file missing from the wheel would go unnoticed. So in that mode the source
directories are moved behind site-packages here (still importable for ``tests.*``), and the session stops
with an error if an otter package was imported from the source tree all the same.
"""

from __future__ import annotations

import json
import os
import sys
import sysconfig
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
# The directories whose modules would shadow the installed packages: the repo root (otter_core) and
# each plugin's and contrib package's directory (otter_mysql, ...).
SOURCE_DIRS = {ROOT, *(setup.parent for setup in ROOT.glob("*/*/setup.cfg"))}


def installed_as_wheel() -> bool:
    """True when otter-core is installed from a wheel (not editable, not absent)."""
    try:
        direct_url = metadata.distribution("otter-core").read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return False
    return not (direct_url and json.loads(direct_url).get("dir_info", {}).get("editable"))


WHEELS = os.environ.get("OTTER_TEST_INSTALL", "wheels" if installed_as_wheel() else "editable") == "wheels"


def _is_source_dir(entry: str) -> bool:
    return Path(entry or os.getcwd()).resolve() in SOURCE_DIRS


def keep_site_packages_first() -> None:
    """Move every source directory on sys.path behind the installed packages (present, so pytest does
    not insert it again at the front)."""
    sources = [entry for entry in sys.path if _is_source_dir(entry)]
    sys.path[:] = [entry for entry in sys.path if not _is_source_dir(entry)]
    sys.path.extend(str(Path(entry or os.getcwd()).resolve()) for entry in sources)
    if str(ROOT) not in sys.path:
        sys.path.append(str(ROOT))  # tests.* stays importable


def otter_modules_from_source() -> list[str]:
    """The imported otter packages (otter_core, otter_mysql, ...) whose code comes from the source tree."""
    installed = {Path(sysconfig.get_paths()[key]).resolve() for key in ("purelib", "platlib")}
    found = []
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if "." in name or not name.startswith("otter_") or not file:
            continue
        path = Path(file).resolve()
        if not any(path.is_relative_to(site) for site in installed):
            found.append(f"{name} from {path}")
    return sorted(found)


def _stop_if_source_imported(when: str) -> None:
    found = otter_modules_from_source()
    if found:
        pytest.exit(
            f"the run is against the installed wheels (OTTER_TEST_INSTALL=wheels) but {when} these otter "
            f"packages were imported from outside site-packages: {', '.join(found)}. Run the tests with "
            "`bash scripts/test.sh` (it installs the wheels) or `.venv/bin/pytest` (not `python -m pytest`, which "
            "puts the working directory first on sys.path); OTTER_EDITABLE=1 bash scripts/test.sh for the source.",
            returncode=pytest.ExitCode.USAGE_ERROR,
        )


if WHEELS:
    keep_site_packages_first()


def pytest_sessionstart(session: pytest.Session) -> None:
    if WHEELS:
        _stop_if_source_imported("at the start of the session")


def pytest_collection_finish(session: pytest.Session) -> None:
    if WHEELS:
        _stop_if_source_imported("after collecting the tests")

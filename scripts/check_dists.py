"""Check the distributions users install: ``python scripts/check_dists.py [--keep DIR]``.

For every package of the repo (otter-core, plugins/*, contrib/*) it builds the sdist and the wheel from
that sdist (``python -m build``, no isolation: the build tools are the locked ones of the running
virtualenv), runs ``twine check``, checks that every git-tracked file of the package is in its sdist and
every file of its import package in its wheel (the C sources excepted, the compiled extension required),
then installs the wheels into a FRESH virtualenv with constraints.txt and runs ``otter-run --version``,
``otter-run manager --help``, ``otter-run plugins`` and a short one-way sync between two throwaway
MariaDB servers (``otter-run demo``) from there. tests/packaging/test_installed_wheels.py runs these
steps under pytest (and so in .ci/run); this script runs them all and exits non-zero on the first failure.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONSTRAINTS = ROOT / "constraints.txt"
# otter-core's sdist: its package and these files; the repo's tests/, docs/ and bench/ stay in the repo.
CORE_FILES = ("README.md", "CHANGELOG.md", "setup.cfg", "setup.py", "MANIFEST.in")
NOT_IN_WHEEL = re.compile(r"\.(c|h)$")  # compiled into the extension instead
EXTENSIONS = {"otter-mysql": "otter_mysql/_rowdecode"}  # a wheel without it would silently be slow


# Imports every module of the given packages (a file the wheel lacks fails here, as
# otter_manager.web.pages_auth did); a third-party module that only a test extra installs is no fault,
# and alembic's migrations/env.py runs only inside alembic.
IMPORT_ALL = """
import importlib, pkgutil, sys
failed = []
for top in sys.argv[1:]:
    package = importlib.import_module(top)
    for info in pkgutil.walk_packages(package.__path__, top + "."):
        if info.name.endswith(".migrations.env"):
            continue
        try:
            importlib.import_module(info.name)
        except ModuleNotFoundError as exc:
            if (exc.name or "").startswith("otter"):
                failed.append(f"{info.name}: {exc!r}")
        except Exception as exc:
            failed.append(f"{info.name}: {exc!r}")
sys.exit("modules of the installed wheels that do not import: " + "; ".join(failed) if failed else 0)
"""


class DistError(Exception):
    """A distribution is broken: the message names the package, the file or the command."""


@dataclass(frozen=True)
class Package:
    name: str  # the distribution name (setup.cfg)
    directory: Path
    modules: tuple[str, ...]  # the import packages it ships (otter_core, ...)

    def tracked_files(self) -> list[str]:
        """The git-tracked files that belong in the sdist, relative to the package directory."""
        paths = [*self.modules, *CORE_FILES] if self.directory == ROOT else ["."]
        out = run(["git", "ls-files", "-z", "--", *paths], cwd=self.directory)
        return sorted(name for name in out.split("\0") if name)


@dataclass(frozen=True)
class Dists:
    package: Package
    sdist: Path
    wheel: Path


def run(
    command: list[str], cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 600
) -> str:
    """Run a command; its output, or DistError with the command and its output."""
    result = subprocess.run(
        command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        raise DistError(
            f"`{' '.join(map(str, command))}` exited {result.returncode}:\n{result.stdout}{result.stderr}"
        )
    return result.stdout


def packages() -> list[Package]:
    """otter-core, then every plugin and contrib package, from their setup.cfg files."""
    found = []
    for setup_cfg in [
        ROOT / "setup.cfg",
        *sorted(ROOT.glob("plugins/*/setup.cfg")),
        *sorted(ROOT.glob("contrib/*/setup.cfg")),
    ]:
        text = setup_cfg.read_text()
        name = re.search(r"^name\s*=\s*(\S+)", text, re.MULTILINE)
        include = re.search(r"^include\s*=\s*(.+)$", text, re.MULTILINE)
        if not name or not include:
            raise DistError(f"{setup_cfg}: no `name =` or `[options.packages.find] include =` line")
        modules = tuple(m.strip() for m in include.group(1).split(",") if "*" not in m)
        found.append(Package(name.group(1), setup_cfg.parent, modules))
    return found


def build(package: Package, out_dir: Path) -> Dists:
    """The sdist, and the wheel built from it (what pip builds for a user of the sdist)."""
    target = out_dir / package.name
    run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(target), str(package.directory)])
    sdists, wheels = sorted(target.glob("*.tar.gz")), sorted(target.glob("*.whl"))
    if len(sdists) != 1 or len(wheels) != 1:
        raise DistError(
            f"{package.name}: expected one sdist and one wheel in {target}, found {sdists + wheels}"
        )
    return Dists(package, sdists[0], wheels[0])


def twine_check(dists: list[Dists]) -> None:
    files = [str(path) for d in dists for path in (d.sdist, d.wheel)]
    run([sys.executable, "-m", "twine", "check", "--strict", *files])


def missing_from_sdist(dists: Dists) -> list[str]:
    """Tracked files of the package that its sdist lacks."""
    with tarfile.open(dists.sdist) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    return [path for path in dists.package.tracked_files() if path not in names]


def missing_from_wheel(dists: Dists) -> list[str]:
    """Files of the package's import packages that its wheel lacks (C sources excepted), and the
    compiled extension if the package has one and the wheel does not."""
    with zipfile.ZipFile(dists.wheel) as wheel:
        names = set(wheel.namelist())
    shipped = [p for p in dists.package.tracked_files() if p.split("/", 1)[0] in dists.package.modules]
    missing = [p for p in shipped if p not in names and not NOT_IN_WHEEL.search(p)]
    extension = EXTENSIONS.get(dists.package.name)
    if extension and not any(n.startswith(extension) and n.endswith(".so") for n in names):
        missing.append(f"{extension}*.so (the compiled extension: was a C compiler missing?)")
    return missing


def check_manifests(dists: list[Dists]) -> None:
    problems = []
    for d in dists:
        if lacking := missing_from_sdist(d):
            problems.append(f"{d.sdist.name} lacks {lacking}: add them to {d.package.directory}/MANIFEST.in")
        if lacking := missing_from_wheel(d):
            problems.append(
                f"{d.wheel.name} lacks {lacking}: a module directory without __init__.py, or package_data?"
            )
    if problems:
        raise DistError("\n".join(problems))


def fresh_venv(directory: Path, dists: list[Dists]) -> Path:
    """A new virtualenv with every wheel at the locked versions."""
    base = getattr(sys, "_base_executable", sys.executable)
    run([base, "-m", "venv", str(directory)])
    python = directory / "bin" / "python"
    wheels = [str(d.wheel) for d in dists]
    env = {**os.environ, "PIP_CONSTRAINT": str(CONSTRAINTS)}
    run([str(python), "-m", "pip", "install", "-q", "-c", str(CONSTRAINTS), *wheels], env=env, timeout=900)
    return directory


def otter_run(venv: Path, *args: str, timeout: float = 120) -> str:
    """``otter-run ARGS`` of the fresh virtualenv, from a directory outside the repo (nothing of the
    source tree can be imported)."""
    return run([str(venv / "bin" / "otter-run"), *args], cwd=venv, env=outside_env(), timeout=timeout)


def outside_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "OTTER_TEST_INSTALL")}
    env["PYTHONSAFEPATH"] = "1"
    return env


def check_installed(venv: Path, dists: list[Dists], rows: int = 300, seconds: float = 2) -> None:
    version = otter_run(venv, "--version")
    for d in dists:
        if f"{d.package.name} " not in version:
            raise DistError(f"`otter-run --version` does not list {d.package.name}:\n{version}")
    if "usage: otter-run manager" not in otter_run(venv, "manager", "--help"):
        raise DistError("`otter-run manager --help` printed no usage")
    modules = [m for d in dists for m in d.package.modules]
    run([str(venv / "bin" / "python"), "-c", IMPORT_ALL, *modules], cwd=venv, env=outside_env())
    run(
        [str(venv / "bin" / "python"), "-m", "otter_manager.openapi", str(venv / "openapi.json")],
        cwd=venv,
        env=outside_env(),
    )
    plugins = otter_run(venv, "plugins")
    if "broken" in plugins or "otter-mysql" not in plugins:
        raise DistError(f"`otter-run plugins` from the installed wheels:\n{plugins}")
    demo = otter_run(
        venv, "--log-level", "WARNING", "demo", "--rows", str(rows), "--seconds", str(seconds), timeout=300
    )
    if not re.search(r"^OK: the target holds exactly the source's", demo, re.MULTILINE):
        raise DistError(f"the one-way sync from the installed wheels did not converge:\n{demo}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keep", type=Path, help="build and install into this directory and keep it")
    args = parser.parse_args(argv)
    work = args.keep or Path(tempfile.mkdtemp(prefix="otter-dists-"))
    try:
        dists = [build(package, work / "dist") for package in packages()]
        twine_check(dists)
        check_manifests(dists)
        venv = fresh_venv(work / "venv", dists)
        check_installed(venv, dists)
    except DistError as exc:
        print(f"check_dists: {exc}", file=sys.stderr)
        return 1
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"check_dists: {len(dists)} packages: sdists and wheels built, checked, installed and run")
    return 0


if __name__ == "__main__":
    sys.exit(main())

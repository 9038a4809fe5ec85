"""``otter-run`` sub-commands from plugins (hook ``otter_cli_commands``, entry points ``otter.cli``): a
plugin installed next to otter-core adds its command, and one that cannot be imported leaves otter-run
working and is named."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HELLO = """
from otter_core import hookimpl


def cmd_hello(args):
    print(f"hello {args.name}")
    return 0


@hookimpl
def otter_cli_commands(subparsers):
    hello = subparsers.add_parser("hello", help="say hello")
    hello.add_argument("name")
    hello.set_defaults(func=cmd_hello)
"""


def install_module(site: Path, dist: str, module: str, source: str) -> None:
    """A minimal installed distribution: the module and a dist-info with its ``otter.cli`` entry point."""
    (site / f"{module}.py").write_text(source)
    info = site / f"{dist}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[otter.cli]\n{dist} = {module}\n")


def otter_run(site: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, "-m", "otter_core.cli", *args],
        cwd=site,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_plugin_adds_an_otter_run_command(tmp_path):
    install_module(tmp_path, "otter-hello", "otter_hello", HELLO)
    done = otter_run(tmp_path, "hello", "world")
    assert (done.returncode, done.stdout) == (0, "hello world\n"), done.stderr
    assert "hello" in otter_run(tmp_path, "--help").stdout


def test_a_plugin_that_cannot_be_imported_leaves_otter_run_working_and_is_named(tmp_path):
    install_module(tmp_path, "otter-broken", "otter_broken", "raise ImportError('no module named kazoo')\n")
    helped = otter_run(tmp_path, "--help")
    assert helped.returncode == 0 and "usage: otter-run" in helped.stdout, helped.stderr
    assert "otter_broken" in helped.stderr and "no module named kazoo" in helped.stderr
    listed = otter_run(tmp_path, "plugins")
    assert listed.returncode == 0
    assert any("otter-broken" in line and "broken" in line for line in listed.stdout.splitlines()), (
        listed.stdout
    )


def test_otter_run_run_loads_no_plugin_commands(tmp_path):
    """``otter-run run`` (and the other core commands) build only their own parsers: the plugins'
    ``otter.cli`` entry points (kazoo, the manager) and the verify/load/position modules are start-up
    CPU that a run never uses. A plugin's command still works, after the global options too."""
    noisy = "import pathlib\npathlib.Path('imported').write_text('yes')\n" + HELLO
    install_module(tmp_path, "otter-hello", "otter_hello", noisy)
    done = otter_run(tmp_path, "--log-level", "WARNING", "run", str(tmp_path / "missing.yaml"))
    assert done.returncode != 0 and "missing.yaml" in done.stderr, done.stderr
    assert not (tmp_path / "imported").exists()  # the plugin's module was never imported
    done = otter_run(tmp_path, "--log-level=WARNING", "channel", "pause", "c", "--state-dir", "nowhere")
    assert not (tmp_path / "imported").exists(), done.stderr
    said = otter_run(tmp_path, "--log-level", "WARNING", "hello", "world")
    assert (said.returncode, said.stdout) == (0, "hello world\n"), said.stderr
    assert (tmp_path / "imported").exists()


def test_otter_run_load_builds_only_the_load_parsers(tmp_path):
    """``otter-run load`` (and ``resync``) build the core parsers and their own: no plugin's ``otter.cli``
    entry point and no verify module is imported at their start (~0.1 s of CPU a load never used)."""
    noisy = "import pathlib\npathlib.Path('imported').write_text('yes')\n" + HELLO
    install_module(tmp_path, "otter-hello", "otter_hello", noisy)
    probe = (
        "import sys\nfrom otter_core import cli\n"
        "code = cli.main(sys.argv[1:])\n"
        "print(code, sorted(m for m in sys.modules if m.startswith(('otter_core.verify', 'otter_core.cli_'))))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    for command in (["load", "missing.yaml"], ["resync", "missing.yaml", "--table", "s.t"]):
        done = subprocess.run(
            [sys.executable, "-c", probe, "--log-level", "WARNING", *command],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert "missing.yaml" in done.stderr, done.stderr
        assert done.stdout.split()[0] == "2", done.stdout
        assert done.stdout.strip().endswith("['otter_core.cli_load']"), done.stdout
        assert not (tmp_path / "imported").exists()  # the plugin's module was never imported
    said = otter_run(tmp_path, "--log-level", "WARNING", "hello", "world")
    assert (said.returncode, said.stdout) == (0, "hello world\n"), said.stderr

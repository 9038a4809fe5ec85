"""Versions that mean something: ``otter-run --version`` names otter-core and every installed plugin, and
every plugin and contrib package declares the otter-core range of the current minor version."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import pytest

from otter_core import __version__
from otter_core.cli import main

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_CFGS = sorted([*ROOT.glob("plugins/*/setup.cfg"), *ROOT.glob("contrib/*/setup.cfg")])


def test_version_prints_otter_core_and_each_installed_plugin(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"otter-core {__version__}"
    listed = dict(line.split() for line in lines[1:])
    for cfg in PACKAGE_CFGS:
        name = re.search(r"^name\s*=\s*(\S+)", cfg.read_text(), re.MULTILINE).group(1)
        assert listed.get(name) == metadata.version(name), f"{name} is not listed: {lines}"


def test_every_plugin_declares_the_otter_core_range_of_this_minor_version():
    major, minor = (int(part) for part in __version__.split(".")[:2])
    wanted = f"otter-core>={major}.{minor},<{major}.{minor + 1}"
    assert len(PACKAGE_CFGS) >= 10
    for cfg in PACKAGE_CFGS:
        requires = re.findall(r"^\s+(otter-core\S*)", cfg.read_text(), re.MULTILINE)
        assert requires == [wanted], f"{cfg.relative_to(ROOT)} requires {requires}, not {wanted}"


def test_the_changelog_has_an_entry_for_this_version():
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert "## [Unreleased]" in changelog
    assert f"## [{__version__}]" in changelog

"""docs/manager.md's pages section links screenshots that exist, and names the vendored chart library's
version and licence as they are in static/uplot/."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[3]
DOC = (ROOT / "docs" / "manager.md").read_text()
UPLOT = ROOT / "plugins" / "otter-manager" / "otter_manager" / "web" / "static" / "uplot"


def test_every_linked_screenshot_exists_and_is_a_png():
    links = re.findall(r"\]\((screenshots/[^)]+)\)", DOC)
    assert len(set(links)) >= 8, links
    for link in links:
        data = (ROOT / "docs" / link).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", link


def test_the_vendored_uplot_is_the_documented_version_with_its_licence():
    version = re.search(r"uPlot\]\([^)]*\) (\d+\.\d+\.\d+) \(MIT", DOC).group(1)
    assert f"`uplot` {version}" in (UPLOT / "README.md").read_text()
    assert "MIT License" in (UPLOT / "LICENSE").read_text()
    assert f"uPlot (v{version})" in (UPLOT / "uPlot.iife.min.js").read_text()[:200]

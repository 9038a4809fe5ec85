"""Everything the scripts install is locked: each third-party distribution in this virtualenv is pinned
in constraints.txt at the version installed, so no new release can enter a machine unnoticed."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# pip comes with the interpreter (ensurepip); the repo's own packages are built from the tree.
NOT_LOCKED = {"pip"}


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_installed_third_party_distribution_is_pinned_at_its_version():
    text = (ROOT / "constraints.txt").read_text()
    pins = {normalized(m[0]): m[1] for m in re.findall(r"^([A-Za-z0-9._-]+)==(\S+)", text, re.MULTILINE)}
    assert "otter-core" not in pins, "the repo's own packages are not locked"
    unpinned = []
    for dist in metadata.distributions():
        name = normalized(dist.metadata["Name"])
        if name.startswith("otter-") or name in NOT_LOCKED:
            continue
        if pins.get(name) != dist.version:
            unpinned.append(f"{name} {dist.version} (constraints.txt: {pins.get(name, 'absent')})")
    assert unpinned == [], f"installed but not locked: {unpinned}; run `bash scripts/lock.sh`"

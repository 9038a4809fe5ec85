"""Parsing and checking the ``conflict:`` policy of a DataMediaPair (see docs/configuration.md)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from otter_core.model import ConflictPolicy, Hint, Pipeline

DETECTING_TYPES = ("mysql", "mariadb")  # target types whose loader checks conflicts
KINDS = ("home_wins", "newer_wins", "source_wins", "manual")
_NEWER = re.compile(r"^newer_wins\(\s*([^()\s]+)\s*\)$")
EXPECTED = "expected home_wins, newer_wins(COLUMN), source_wins or manual"


def parse_policy(value: Any) -> ConflictPolicy:
    """``home_wins`` / ``source_wins`` / ``manual`` / ``newer_wins(updated_at)``; ValueError otherwise."""
    text = str(value).strip() if isinstance(value, str) else None
    if text in ("home_wins", "source_wins", "manual"):
        return ConflictPolicy(text)
    match = _NEWER.match(text or "")
    if match:
        return ConflictPolicy("newer_wins", match.group(1))
    if text == "newer_wins":
        raise ValueError("newer_wins needs the column that orders versions, e.g. newer_wins(updated_at)")
    raise ValueError(f"unknown policy {value!r}: {EXPECTED}")


def channel_problem(pipelines: Sequence[Pipeline], sources: Mapping[str, Any] | None = None) -> str | None:
    """Why the conflict policies of a channel's pipelines cannot converge, or None.

    Two-way: every automatic policy needs a home pipeline (the loopback remedy is what makes the sides
    converge after an ABA change, and newer_wins breaks ties in favour of home); ``home_wins`` needs a
    two-way channel."""
    policies = {p.conflict.kind for pipe in pipelines for p in pipe.pairs if p.conflict is not None}
    for pipe in pipelines:
        for pair in pipe.pairs:
            target = (sources or {}).get(pair.target_source or pipe.target)
            if pair.conflict is not None and target is not None and target.type not in DETECTING_TYPES:
                return (
                    f"conflict: {pair.conflict} on pair {pair.source} of pipeline {pipe.name}: conflict "
                    f"detection is built for mysql/mariadb targets, and {target.name} is {target.type}"
                )
    two_way = len(pipelines) == 2
    has_home = any(p.home for p in pipelines)
    if "home_wins" in policies and not (two_way and has_home):
        return "conflict: home_wins needs a two-way channel with `home: true` on one of its two pipelines"
    automatic = sorted(policies - {"manual"})
    if two_way and automatic and not has_home:
        return (
            f"conflict: {', '.join(automatic)} in a two-way channel needs `home: true` on one pipeline: "
            f"without a home, crossing changes can settle differently on the two sides"
        )
    return None


def policy_hint(policy: ConflictPolicy) -> str:
    """The hint Transform puts on the events of a pair with ``policy`` (``Hint.CONFLICT_POLICY``)."""
    return Hint.CONFLICT_POLICY.of(str(policy))

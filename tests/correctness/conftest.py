"""Hypothesis profiles of the differential harness and the count of examples each test ran.

``OTTER_HARNESS_PROFILE=ci`` (the default): few examples, a fixed seed (derandomize), no example
database, no shrinking (a failure is reported with the example as generated), so CI is bounded and
reproducible. ``OTTER_HARNESS_PROFILE=soak``: many random examples, shrinking on, for local soak runs.
``OTTER_HARNESS_EXAMPLES=N`` sets the examples per test under either profile.
"""

from __future__ import annotations

import os
from collections import Counter

import pytest
from hypothesis import HealthCheck, Phase, settings

PROFILE = os.environ.get("OTTER_HARNESS_PROFILE", "ci")
_SLOW_CHECKS = [
    HealthCheck.too_slow,
    HealthCheck.data_too_large,
    HealthCheck.large_base_example,
    HealthCheck.function_scoped_fixture,
]
settings.register_profile(
    "ci",
    max_examples=3,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=_SLOW_CHECKS,
    print_blob=True,
)
settings.register_profile(
    "soak",
    max_examples=60,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
    suppress_health_check=_SLOW_CHECKS,
    print_blob=True,
)
settings.load_profile(PROFILE)

EXAMPLES: Counter[str] = Counter()  # test node name: examples run (each one a full pipeline run)


def scaled(ci: int) -> int:
    """Examples for a test: ``OTTER_HARNESS_EXAMPLES`` when set, else ``ci`` under the ci profile and the
    profile's own count (at least ``ci``) under the others."""
    if os.environ.get("OTTER_HARNESS_EXAMPLES"):
        return int(os.environ["OTTER_HARNESS_EXAMPLES"])
    return ci if PROFILE == "ci" else max(ci, settings.get_profile(PROFILE).max_examples)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if EXAMPLES:
        terminalreporter.section(f"differential harness: examples run (profile {PROFILE})")
        for name, count in sorted(EXAMPLES.items()):
            terminalreporter.write_line(f"{count:5d}  {name}")
        terminalreporter.write_line(f"{sum(EXAMPLES.values()):5d}  in all")


def pytest_collection_modifyitems(config, items):
    """Outside the ci profile a test runs as long as its examples take (pytest.ini's 300 s is for CI)."""
    if PROFILE == "ci" and not os.environ.get("OTTER_HARNESS_EXAMPLES"):
        return
    here = os.path.dirname(__file__)
    for item in items:
        if str(item.path).startswith(here):
            item.add_marker(pytest.mark.timeout(0))

"""The pipeline processes' garbage-collector tuning (``engine/allocator.py``), in a fresh interpreter."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import otter_core

# A window of batches in flight: 200k live tuples allocated, then freed by reference counting as their
# batch is loaded, five times over; the collector is asked to run only for what outlives the window.
WINDOWS = """
import gc
from otter_core.engine.allocator import GC_THRESHOLDS, tune_process
tune_process()
assert gc.get_threshold() == GC_THRESHOLDS, gc.get_threshold()
assert gc.get_freeze_count() > 0
runs = []
gc.callbacks.append(lambda phase, info: phase == "start" and runs.append(info["generation"]))
for window in range(5):
    in_flight = [(i, str(i)) for i in range(200_000)]
    del in_flight
cycle = []
cycle.append(cycle)  # garbage only the collector can free
del cycle
print(len(runs), gc.collect())
"""


def test_a_window_of_batches_freed_by_reference_counting_triggers_no_collection(tmp_path):
    here = str(Path(otter_core.__file__).parent.parent)  # the otter_core this run tests
    out = subprocess.run(
        [sys.executable, "-c", WINDOWS],
        env={**os.environ, "PYTHONPATH": here},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        cwd=tmp_path,
    ).stdout.split()
    collections, cycle_objects = int(out[0]), int(out[1])
    assert collections == 0  # at the old threshold (50 000) 15 collections walked the windows
    assert cycle_objects >= 1  # cycles are still found by a collection

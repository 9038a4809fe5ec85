"""The selector process's own tuning (engine/select_process.py)."""

import subprocess
import sys


def test_the_selector_process_switches_threads_every_half_millisecond():
    """Its main thread only hands transactions on; with the default 5 ms switch interval it waited up to
    5 ms for the GIL while the reader thread decoded (the latency's p99). Run in a fresh interpreter: the
    setting is per process."""
    code = (
        "import sys; from otter_core.engine.select_process import tune_child, SWITCH_INTERVAL_SECONDS; "
        "before = sys.getswitchinterval(); tune_child(); "
        "print(before, sys.getswitchinterval(), SWITCH_INTERVAL_SECONDS)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    before, after, wanted = map(float, out.split())
    assert before == 0.005 and after == wanted == 0.0005

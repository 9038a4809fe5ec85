"""Repeat the 3-node kill -9 test with different random kill points and print the pass count and the
time each pipeline took to move. One command:

    .venv/bin/python bench/nodes_failover.py --runs 10 [--layout whole|split]

Each run starts its own MariaDB pair and ZooKeeper (pytest session), writes 100k rows while killing the
node that holds the pipeline, and checks target == source row for row and that stages never overlapped.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--layout", default="whole", choices=["whole", "split"])
    args = parser.parse_args()
    passed, moves, durations = 0, [], []
    for run in range(1, args.runs + 1):
        env = dict(os.environ, OTTER_KILL_SEED=str(1000 + run))
        started = time.monotonic()
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-p",
                "no:cacheprovider",
                "-q",
                "-s",
                f"tests/faults/test_nodes_kill9.py::test_pipeline_moves_when_nodes_die_and_loses_nothing[{args.layout}]",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        seconds = time.monotonic() - started
        ok = proc.returncode == 0 and " passed" in proc.stdout and "skipped" not in proc.stdout
        passed += ok
        durations.append(seconds)
        found = [float(m) for m in re.findall(r"moved to node \d+ in ([\d.]+)s", proc.stdout)]
        moves += found
        print(f"run {run}: {'passed' if ok else 'FAILED'} in {seconds:.0f}s; moves {found}", flush=True)
        if not ok:
            print(proc.stdout[-3000:])
    print(
        f"{passed} passed, {args.runs - passed} failed ({args.layout}); "
        f"move time min/avg/max {min(moves, default=0):.1f}/{sum(moves) / max(len(moves), 1):.1f}/"
        f"{max(moves, default=0):.1f}s over {len(moves)} moves; run time avg {sum(durations) / len(durations):.0f}s"
    )
    return 0 if passed == args.runs else 1


if __name__ == "__main__":
    sys.exit(main())

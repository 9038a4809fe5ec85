"""Repeated two-way convergence runs, per conflict policy, on two throwaway MariaDB servers.

    python bench/twoway_convergence.py [--runs 10] [--seconds 5] [--keys 100] [--policies home_wins ...]

Each run: a channel a<->b on one table, random inserts/updates/deletes on both sides on the same ``keys``
ids for ``seconds`` (each write bumps a version column ``v``), then quiet; ``manual`` runs resolve what
they parked (keeping each target's row). A run converged when both sides hold the same rows and neither
binlog grew during ``--idle`` seconds after both stood still (no ping-pong). Prints per policy: runs
converged / runs, seconds from the last write until both binlogs stood still (median, max), binlog bytes
written after quiet, writes and conflicts per run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time

from otter_core.testing.mariadb import MariaDBServer
from otter_core.testing.twoway import converge

POLICIES = ("home_wins", "newer_wins(v)", "source_wins", "manual")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=5.0, help="seconds of writes per run")
    ap.add_argument("--keys", type=int, default=100, help="ids both sides write (overlapping)")
    ap.add_argument("--idle", type=float, default=3.0, help="seconds the binlogs must not grow after quiet")
    ap.add_argument("--policies", nargs="+", default=list(POLICIES))
    args = ap.parse_args()
    a, b = MariaDBServer(server_id=401).start(), MariaDBServer(server_id=402).start()
    summary = []
    try:
        for policy in args.policies:
            results = []
            for run in range(args.runs):
                state = tempfile.mkdtemp(prefix="otter-twoway-bench-")
                started = time.monotonic()
                try:
                    result = converge(
                        a,
                        b,
                        policy,
                        state,
                        seconds=args.seconds,
                        keys=args.keys,
                        seed=run + 1,
                        idle=args.idle,
                    )
                except AssertionError as exc:  # a pipeline failed or binlogs never stood still
                    print(f"{policy} run {run + 1}: FAILED {exc}", flush=True)
                    results.append(None)
                    continue
                results.append(result)
                print(
                    f"{policy} run {run + 1}: {'converged' if result.converged else 'NOT CONVERGED'} "
                    f"{result.settle_seconds:.2f}s after the last write, {result.binlog_bytes_after_quiet} binlog "
                    f"bytes after quiet, {result.rows} rows, {result.writes} writes, {result.conflicts} conflicts"
                    f"{f', {result.parked_resolved} keys resolved' if policy == 'manual' else ''} "
                    f"({time.monotonic() - started:.0f}s)"
                    f"{'' if result.converged else f'; differing (a row, b row): {result.differing[:3]}'}",
                    flush=True,
                )
            ok = [r for r in results if r is not None and r.converged]
            settle = [r.settle_seconds for r in ok] or [float("nan")]
            summary.append(
                (
                    policy,
                    len(ok),
                    len(results),
                    statistics.median(settle),
                    max(settle),
                    max((r.binlog_bytes_after_quiet for r in results if r), default=0),
                    statistics.median([r.writes for r in results if r] or [0]),
                    statistics.median([r.conflicts for r in results if r] or [0]),
                )
            )
    finally:
        a.destroy()
        b.destroy()
    print(f"\n{args.seconds:g} s of writes per run on {args.keys} overlapping ids, both sides")
    print(
        f"{'policy':16s} {'converged':>10s} {'settle p50':>11s} {'settle max':>11s} {'binlog B after quiet':>21s} "
        f"{'writes/run':>11s} {'conflicts/run':>14s}"
    )
    for policy, ok, total, p50, worst, grown, writes, conflicts in summary:
        print(
            f"{policy:16s} {f'{ok}/{total}':>10s} {p50:>10.2f}s {worst:>10.2f}s {grown:>21d} {writes:>11.0f} "
            f"{conflicts:>14.0f}"
        )
    return 0 if all(ok == total for _, ok, total, *_ in summary) else 1


if __name__ == "__main__":
    sys.exit(main())

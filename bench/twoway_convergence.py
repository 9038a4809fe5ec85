"""Repeated two-way convergence runs, per conflict policy and sync mode, on two throwaway MariaDB servers.

    python bench/twoway_convergence.py [--runs 10] [--seconds 5] [--keys 100] [--policies home_wins ...]
    python bench/twoway_convergence.py --table every-type --sync-modes field row [--seconds 3 --keys 20]

Each run: a channel a<->b on one table, random inserts/updates/deletes on both sides on the same ``keys``
ids for ``seconds`` (each write bumps a version column ``v``), then quiet; ``manual`` runs resolve what
they parked (keeping each target's row) until nothing is parked. ``--table shop`` is shop.c (INT key,
VARCHAR, INT, v); ``--table every-type`` is a table of every MariaDB type (otter_core.testing.alltypes,
BIGINT UNSIGNED keys near 2^64) compared column by column (GEOMETRY as WKB, JSON normalised, FLOAT at its
stored precision, the rest as stored bytes). Policy ``none`` is a channel without ``conflict:`` (home
wins). A run converged when both sides hold the same rows and neither binlog grew during ``--idle``
seconds after both stood still (no ping-pong). Prints per policy and sync mode: runs converged / runs,
rows, seconds from the last write until both binlogs stood still (median, max), binlog bytes written
after quiet, writes and conflicts per run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from typing import Any

from otter_core.testing.mariadb import MariaDBServer
from otter_core.testing.twoway import ShopWorkload, converge
from otter_core.testing.twoway_types import EveryTypeWorkload

POLICIES = ("home_wins", "newer_wins(v)", "source_wins", "manual")
ALL_POLICIES = ("none", *POLICIES)
WORKLOADS = {"shop": ShopWorkload, "every-type": EveryTypeWorkload}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=5.0, help="seconds of writes per run")
    ap.add_argument("--keys", type=int, default=100, help="ids both sides write (overlapping)")
    ap.add_argument("--idle", type=float, default=3.0, help="seconds the binlogs must not grow after quiet")
    ap.add_argument("--table", choices=sorted(WORKLOADS), default="shop")
    ap.add_argument(
        "--policies", nargs="+", default=None, help=f"default: {' '.join(POLICIES)} (every-type: also none)"
    )
    ap.add_argument("--sync-modes", nargs="+", choices=["field", "row"], default=["field"])
    args = ap.parse_args()
    policies = args.policies or list(ALL_POLICIES if args.table == "every-type" else POLICIES)
    a, b = MariaDBServer(server_id=401).start(), MariaDBServer(server_id=402).start()
    summary = []
    try:
        for mode in args.sync_modes:
            for policy in policies:
                summary.append((policy, mode, run_policy(a, b, policy, mode, args)))
    finally:
        a.destroy()
        b.destroy()
    print(
        f"\n{args.table} table, {args.seconds:g} s of writes per run on {args.keys} overlapping ids, both sides"
    )
    print(
        f"{'policy':15s} {'mode':5s} {'converged':>10s} {'rows':>5s} {'settle p50':>11s} {'settle max':>11s} "
        f"{'binlog B after quiet':>21s} {'writes/run':>11s} {'conflicts/run':>14s}"
    )
    failed = False
    for policy, mode, results in summary:
        ok = [r for r in results if r is not None and r.converged]
        done = [r for r in results if r is not None]
        settle = [r.settle_seconds for r in ok] or [float("nan")]
        failed = failed or len(ok) < len(results)
        print(
            f"{policy:15s} {mode:5s} {f'{len(ok)}/{len(results)}':>10s} "
            f"{statistics.median([r.rows for r in done] or [0]):>5.0f} "
            f"{statistics.median(settle):>10.2f}s {max(settle):>10.2f}s "
            f"{max((r.binlog_bytes_after_quiet for r in done), default=0):>21d} "
            f"{statistics.median([r.writes for r in done] or [0]):>11.0f} "
            f"{statistics.median([r.conflicts for r in done] or [0]):>14.0f}"
        )
    return 1 if failed else 0


def run_policy(a: MariaDBServer, b: MariaDBServer, policy: str, mode: str, args: argparse.Namespace) -> list:
    """``args.runs`` runs of one policy and sync mode; a failed run (pipeline stopped, binlogs never
    stood still) counts as None."""
    results: list = []
    parameters: dict[str, Any] = {} if mode == "field" else {"sync_mode": mode}  # field: the default, unset
    for run in range(args.runs):
        state = tempfile.mkdtemp(prefix="otter-twoway-bench-")
        started = time.monotonic()
        try:
            result = converge(
                a,
                b,
                None if policy == "none" else policy,
                state,
                seconds=args.seconds,
                keys=args.keys,
                seed=run + 1,
                idle=args.idle,
                workload=WORKLOADS[args.table](),
                **parameters,
            )
        except AssertionError as exc:
            print(f"{policy} {mode} run {run + 1}: FAILED {str(exc)[:1000]}", flush=True)
            results.append(None)
            continue
        results.append(result)
        print(
            f"{policy} {mode} run {run + 1}: {'converged' if result.converged else 'NOT CONVERGED'} "
            f"{result.settle_seconds:.2f}s after the last write, {result.binlog_bytes_after_quiet} binlog "
            f"bytes after quiet, {result.rows} rows, {result.writes} writes, {result.conflicts} conflicts"
            f"{f', {result.parked_resolved} keys resolved' if policy == 'manual' else ''}, "
            f"{result.restarts} retries ({time.monotonic() - started:.0f}s)"
            f"{f'; last error: {result.last_error}' if result.last_error else ''}"
            f"{'' if result.converged else f'; differing: {result.differing[:3]}'}",
            flush=True,
        )
    return results


if __name__ == "__main__":
    sys.exit(main())

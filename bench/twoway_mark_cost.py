"""What two-way sync costs the loader: rows/s without the loopback mark, with it, and with the mark plus
conflict detection (before images, one locking read of the target rows per table and call), measured in
the same run against one throwaway MariaDB, variants interleaved round by round.

    python bench/twoway_mark_cost.py [--rows 100000] [--batch 1000] [--threads 1] [--rounds 3]

Prints, per phase (insert / field-mode update / delete) and variant, the median rows/s, the ratio to the
plain loader and the loader's CPU seconds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import attrs

sys.path.insert(0, str(Path(__file__).parent))
from bench_mysql_loader import DDL, make_events, run

from otter_core.conflict_policy import policy_hint
from otter_core.model import (
    ConflictPolicy,
    DataMedia,
    DataMediaPair,
    DataMediaSource,
    EventType,
    Pipeline,
    PipelineParameters,
    SyncMode,
)
from otter_core.testing.mariadb import OTTER_PASSWORD, OTTER_USER, MariaDBServer
from otter_mysql.loader import MySQLLoader

VARIANTS = ("plain", "mark", "mark+detect")
POLICY = ConflictPolicy("source_wins")


def with_before_images(phases: dict) -> dict:
    """The events a detecting pipeline carries: policy hint and before images that match the target."""
    hint = frozenset({policy_hint(POLICY)})
    inserts = {e.keys["id"]: e for e in phases[EventType.INSERT]}
    return {
        EventType.INSERT: [attrs.evolve(e, hints=hint) for e in phases[EventType.INSERT]],
        EventType.UPDATE: [
            attrs.evolve(e, hints=hint, old_columns=inserts[e.keys["id"]].columns)
            for e in phases[EventType.UPDATE]
        ],
        EventType.DELETE: [
            attrs.evolve(e, hints=hint, old_columns=e.columns) for e in phases[EventType.DELETE]
        ],
    }


def loader_for(variant: str, target: DataMediaSource, threads: int) -> MySQLLoader:
    params = PipelineParameters(
        load_pool_size=threads, sync_mode=SyncMode.FIELD, loopback_mark=variant != "plain"
    )
    pair = DataMediaPair(
        DataMedia("bench", "t"),
        DataMedia("bench", "t"),
        conflict=POLICY if variant == "mark+detect" else None,
    )
    return MySQLLoader(target, Pipeline("bench", "s", "bench", (pair,), parameters=params, channel="bench"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    plain = {k: make_events(args.rows, k) for k in (EventType.INSERT, EventType.UPDATE, EventType.DELETE)}
    events = {"plain": plain, "mark": plain, "mark+detect": with_before_images(plain)}
    rates: dict[tuple[str, EventType], list[float]] = {}
    cpu: dict[str, float] = dict.fromkeys(VARIANTS, 0.0)
    with MariaDBServer() as server:
        server.execute("CREATE DATABASE bench", DDL)
        target = DataMediaSource("bench", "mysql", "127.0.0.1", server.port, OTTER_USER, OTTER_PASSWORD)
        for round_no in range(args.rounds):
            order = VARIANTS if round_no % 2 == 0 else tuple(reversed(VARIANTS))
            for variant in order:
                server.execute("TRUNCATE bench.t")
                loader = loader_for(variant, target, args.threads)
                started = time.process_time()
                for kind, phase in events[variant].items():
                    rates.setdefault((variant, kind), []).append(run(loader, phase, args.batch, args.threads))
                cpu[variant] += time.process_time() - started
                loader.close()
            print(f"round {round_no + 1}/{args.rounds} done", file=sys.stderr)
    print(
        f"{args.rows:,} rows per phase, {args.batch}-row load calls, {args.threads} connection(s), "
        f"median of {args.rounds} rounds"
    )
    print(f"{'phase':8s} " + " ".join(f"{v:>22s}" for v in VARIANTS))
    for kind in (EventType.INSERT, EventType.UPDATE, EventType.DELETE):
        base = statistics.median(rates[("plain", kind)])
        cells = []
        for variant in VARIANTS:
            rate = statistics.median(rates[(variant, kind)])
            cells.append(f"{rate:>10,.0f}/s ({rate / base:4.2f}x)")
        print(f"{kind.name.lower():8s} " + " ".join(f"{c:>22s}" for c in cells))
    print("loader CPU seconds (all rounds): " + ", ".join(f"{v} {cpu[v]:.1f}" for v in VARIANTS))


if __name__ == "__main__":
    main()

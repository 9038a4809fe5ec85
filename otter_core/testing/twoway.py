"""Two-way convergence runs on two servers: random writes on both sides on the same keys, then quiet.

Shared by the integration tests (short runs) and ``bench/twoway_convergence.py`` (repeated runs).
"""

from __future__ import annotations

import random
import threading
import time
from typing import Any

import attrs
import yaml

from otter_core.testing.binlog_end import only_bookkeeping_after
from otter_core.testing.mariadb import MariaDBServer

TABLE_DDL = "CREATE TABLE shop.c (id INT PRIMARY KEY, status VARCHAR(20), amount INT, v BIGINT NOT NULL)"
SELECT_ROWS = "SELECT id, status, amount, v FROM shop.c ORDER BY id"


def start_of(server: MariaDBServer) -> dict[str, Any]:
    file, pos = server.binlog_position()
    return {"file": file, "pos": pos}


def twoway_yaml(
    a: MariaDBServer,
    b: MariaDBServer,
    policy: str | None,
    home: bool = True,
    channel: str = "ab",
    table: str = "shop.c",
    **parameters: Any,
) -> str:
    """A channel a<->b on ``table`` with ``conflict: policy`` on both pipelines; a-to-b is home when
    ``home``; ``parameters`` (e.g. ``sync_mode``) on both."""
    pair: dict[str, Any] = {"source": table}
    if policy:
        pair["conflict"] = policy
    params = {"batch_timeout_ms": 50, "retry_backoff_ms": 100, **parameters}
    doc = {
        "sources": {"a": a.source_config("a"), "b": b.source_config("b")},
        "channels": [
            {
                "name": channel,
                "pipelines": [
                    {
                        "name": "a-to-b",
                        "source": "a",
                        "target": "b",
                        "start": start_of(a),
                        "pairs": [pair],
                        "parameters": params,
                        **({"home": True} if home else {}),
                    },
                    {
                        "name": "b-to-a",
                        "source": "b",
                        "target": "a",
                        "start": start_of(b),
                        "pairs": [pair],
                        "parameters": params,
                    },
                ],
            }
        ],
    }
    return yaml.safe_dump(doc, sort_keys=False)


def make_table(*servers: MariaDBServer) -> None:
    """A fresh shop.c (and no conflict log of an earlier run) on every server."""
    for server in servers:
        server.execute(
            "DROP DATABASE IF EXISTS shop",
            "CREATE DATABASE shop",
            TABLE_DDL,
            "CREATE DATABASE IF NOT EXISTS retl",
            "DROP TABLE IF EXISTS retl.retl_conflict",
        )


def random_writes(server: MariaDBServer, keys: int, seconds: float, seed: int) -> int:
    """Random inserts/updates/deletes of ids 1..keys for ``seconds``; each write sets ``v`` to a new,
    increasing version (so newer_wins has an order). Returns the writes that changed a row."""
    rnd = random.Random(seed)
    conn = server.connect()
    deadline = time.monotonic() + seconds
    changed = 0
    with conn.cursor() as cur:
        while time.monotonic() < deadline:
            key, op, version = rnd.randint(1, keys), rnd.random(), time.time_ns() // 1000 * 10 + seed % 10
            if op < 0.45:
                cur.execute(
                    "INSERT INTO shop.c VALUES (%s, %s, %s, %s) ON DUPLICATE KEY UPDATE "
                    "amount = amount + 1, v = VALUES(v)",
                    (key, f"i{seed}", rnd.randint(0, 999), version),
                )
            elif op < 0.8:
                cur.execute(
                    "UPDATE shop.c SET status = %s, amount = %s, v = %s WHERE id = %s",
                    (f"u{seed}", rnd.randint(0, 999), version, key),
                )
            else:
                cur.execute("DELETE FROM shop.c WHERE id = %s", (key,))
            changed += cur.rowcount > 0
    conn.close()
    return changed


class ShopWorkload:
    """The run's default workload: shop.c (INT key, VARCHAR, INT, version ``v``), compared as selected.
    ``otter_core.testing.twoway_types.EveryTypeWorkload`` is the one on a table of every type."""

    table = "shop.c"
    ready_ids = (-1, -2)

    def make(self, *servers: MariaDBServer) -> None:
        make_table(*servers)

    def ready(self, server: MariaDBServer, ready_id: int) -> None:
        server.execute(f"INSERT INTO shop.c VALUES ({ready_id}, 'ready', 0, 0)")

    def ready_count(self, server: MariaDBServer) -> int:
        return len(server.execute("SELECT id FROM shop.c WHERE id < 0"))

    def writes(self, server: MariaDBServer, keys: int, seconds: float, seed: int) -> int:
        return random_writes(server, keys, seconds, seed)

    def rows(self, server: MariaDBServer) -> list[tuple]:
        return server.execute(SELECT_ROWS)

    def differing(self, rows_a: list[tuple], rows_b: list[tuple]) -> list:
        return _differing(rows_a, rows_b)


def binlog_bytes(server: MariaDBServer) -> int:
    """Bytes in the server's binlog files (grows with every logged change)."""
    return sum(int(row[1]) for row in server.execute("SHOW BINARY LOGS"))


def caught_up(runner: Any, sources: dict[str, MariaDBServer], ends: dict[str, tuple]) -> bool:
    """Every pipeline acked its source's binlog end (``ends``: source name -> (file, pos)), or a position
    after which the source logged only bookkeeping events (a pipeline acks transactions, so a binlog that
    ends with a Binlog_checkpoint is never acked to its end)."""
    for pipe in runner.pipelines:
        acked = pipe.stats.position
        end = ends.get(pipe.pipeline.source)
        if end is None or (acked is not None and (acked.file, acked.pos) >= end):
            continue
        if acked is None or not only_bookkeeping_after(
            sources[pipe.pipeline.source], (acked.file, acked.pos), end
        ):
            return False
    return True


def wait_quiet(
    runner: Any,
    *servers: MariaDBServer,
    quiet: float = 2.0,
    timeout: float = 60.0,
    sources: dict[str, MariaDBServer] | None = None,
) -> float:
    """Block until no binlog moved for ``quiet`` seconds (no ping-pong) and, with ``sources`` (source
    name -> server), every pipeline acked its source's end; return when they stopped moving (seconds
    after the call)."""
    started = time.monotonic()
    last = [s.binlog_position() for s in servers]
    still_since = time.monotonic()
    while time.monotonic() - started < timeout:
        time.sleep(0.2)
        failures = runner.failures()
        if failures:
            raise AssertionError(f"pipeline failed: {failures[0][1]}")
        now = [s.binlog_position() for s in servers]
        if now != last:
            last, still_since = now, time.monotonic()
        elif time.monotonic() - still_since >= quiet and (
            sources is None
            or caught_up(runner, sources, {n: s.binlog_position() for n, s in sources.items()})
        ):
            return still_since - started
    raise AssertionError(f"binlogs still growing after {timeout}s: {last} ({runner.status()})")


def resolve_parked(config: Any, action: str = "target") -> int:
    """Resolve the parked conflicts of one target (each key once); returns how many keys were resolved.
    One target per call: the caller lets the resolutions reach the other side (where they close the
    mirrored parks) before resolving what is parked there, so two resolutions of a key never cross."""
    from otter_core.conflicts import list_conflicts, resolve_conflict
    from otter_core.errors import ConfigError

    done: set[tuple] = set()
    parked = sorted(list_conflicts(config, status="parked", limit=100000), key=lambda r: r.id)
    first_target = parked[0].id.split(":")[0] if parked else None
    for rec in parked:
        ident = (rec.id.split(":")[0], rec.pipeline, rec.table, tuple(sorted(rec.key.items())))
        if ident in done or ident[0] != first_target:
            continue
        try:
            resolve_conflict(config, rec.id, action, by="convergence-run")
        except ConfigError:  # settled meanwhile (superseded by the other side's resolution)
            continue
        done.add(ident)
    return len(done)


def resolve_all(
    runner: Any,
    config: Any,
    a: MariaDBServer,
    b: MariaDBServer,
    sources: dict[str, MariaDBServer],
    last_write: float,
    settled: float,
    rounds: int = 10,
    workload: Any = None,
) -> tuple[int, float]:
    """Resolve parked conflicts (one target per round) until none is parked on either side and the rows are
    equal; returns (keys resolved, seconds from ``last_write`` until the last resolutions had arrived).
    Equal rows alone are not enough: a key can stay parked on one side while both sides happen to hold the
    same row (its later changes on the parking side matched the other side's), and an operator still has
    to settle it."""
    from otter_core.conflicts import list_conflicts

    workload = workload or ShopWorkload()
    resolved = 0
    for _ in range(rounds):
        if workload.rows(a) == workload.rows(b) and not list_conflicts(config, status="parked", limit=1):
            break
        resolved += resolve_parked(config)
        called = time.monotonic()
        settled = called - last_write + wait_quiet(runner, a, b, quiet=1.5, timeout=120, sources=sources)
    return resolved, settled


@attrs.define
class RunResult:
    policy: str | None
    converged: bool
    settle_seconds: float  # last write -> both binlogs still (and rows equal)
    binlog_bytes_after_quiet: int  # bytes both binlogs grew in ``idle`` seconds after that
    rows: int
    writes: int
    conflicts: int
    parked_resolved: int = 0
    restarts: int = 0  # pipeline retries (deadlocks, refused loads) during the run
    last_error: str = ""
    differing: list = attrs.field(factory=list)  # up to 5 differences (shop.c: (a row, b row) pairs)


def converge(
    a: MariaDBServer,
    b: MariaDBServer,
    policy: str | None,
    state_dir: str,
    seconds: float = 4.0,
    keys: int = 100,
    seed: int = 1,
    idle: float = 2.0,
    home: bool | None = None,
    workload: Any = None,
    **parameters: Any,
) -> RunResult:
    """One convergence run: both sides write ``keys`` overlapping ids for ``seconds``, then quiet.
    ``workload``: the table and its writes (default ``ShopWorkload``); ``parameters`` go to both
    pipelines (e.g. ``sync_mode="row"``)."""
    from otter_core.config import load_config_text
    from otter_core.conflicts import list_conflicts
    from otter_core.testing.harness import running

    workload = workload or ShopWorkload()
    workload.make(a, b)
    home = policy != "manual" if home is None else home
    text = twoway_yaml(a, b, policy, home=home, table=workload.table, **parameters)
    config = load_config_text(text)
    sources = {"a": a, "b": b}
    with running(text, state_dir) as runner:
        workload.ready(a, workload.ready_ids[0])  # both directions live before the writes
        workload.ready(b, workload.ready_ids[1])
        deadline = time.monotonic() + 120
        while workload.ready_count(a) + workload.ready_count(b) < 4:
            if runner.failures() or time.monotonic() > deadline:
                raise AssertionError(f"pipelines did not start: {runner.status()}")
            time.sleep(0.1)
        writes: dict[int, int] = {}
        threads = [
            threading.Thread(
                target=lambda s=s, n=n: writes.__setitem__(n, workload.writes(s, keys, seconds, seed * 2 + n))
            )
            for n, s in enumerate((a, b))
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        last_write = time.monotonic()
        settled = wait_quiet(runner, a, b, quiet=1.5, timeout=120, sources=sources)
        resolved = 0
        if policy == "manual":
            resolved, settled = resolve_all(
                runner, config, a, b, sources, last_write, settled, workload=workload
            )
        before = binlog_bytes(a) + binlog_bytes(b)
        time.sleep(idle)
        grown = binlog_bytes(a) + binlog_bytes(b) - before
        rows_a, rows_b = workload.rows(a), workload.rows(b)
        conflicts = len(list_conflicts(config, limit=1000000)) if policy else 0
        restarts = sum(p.stats.restarts for p in runner.pipelines)
        last_error = next((p.stats.last_error for p in runner.pipelines if p.stats.last_error), "")
        if policy == "manual":
            assert not list_conflicts(config, status="parked"), "parked conflicts left after resolving"
    return RunResult(
        policy,
        rows_a == rows_b and grown == 0,
        settled,
        grown,
        len(rows_a),
        sum(writes.values()),
        conflicts,
        resolved,
        restarts,
        last_error[:300],
        workload.differing(rows_a, rows_b),
    )


def _differing(rows_a: list, rows_b: list) -> list:
    by_a, by_b = {r[0]: r for r in rows_a}, {r[0]: r for r in rows_b}
    ids = sorted(i for i in set(by_a) | set(by_b) if by_a.get(i) != by_b.get(i))
    return [(by_a.get(i), by_b.get(i)) for i in ids[:5]]

"""The two-way convergence run's workload on a table of every MariaDB type (``otter_core.testing.alltypes``
plus a version column ``v`` for ``newer_wins(v)``): both sides insert whole rows, update a few columns and
delete, on the same BIGINT UNSIGNED keys near 2^64; both sides are then compared row by row, column by
column (GEOMETRY as WKB, JSON normalised, FLOAT at its stored precision, everything else as stored bytes)."""

from __future__ import annotations

import random
import time
from typing import Any

import pymysql

from otter_core.testing import alltypes
from otter_core.testing.mariadb import MariaDBServer

TABLE = "tw"
EXTRA = ("v",)


class EveryTypeWorkload:
    """What ``twoway.converge`` writes and compares on ``fieldtypes.tw``."""

    table = f"{alltypes.DB}.{TABLE}"
    ready_ids = (1, 2)  # below every workload key (those are near 2^64)

    def make(self, *servers: MariaDBServer) -> None:
        for server in servers:
            server.execute(
                f"DROP DATABASE IF EXISTS {alltypes.DB}",
                "CREATE DATABASE IF NOT EXISTS retl",
                "DROP TABLE IF EXISTS retl.retl_conflict",
            )
        alltypes.create_tables(*servers, table=TABLE, extra="v BIGINT NOT NULL DEFAULT 0")

    def ready(self, server: MariaDBServer, ready_id: int) -> None:
        server.execute(f"INSERT INTO {self.table} (id) VALUES ({ready_id})")

    def ready_count(self, server: MariaDBServer) -> int:
        return len(server.execute(f"SELECT id FROM {self.table} WHERE id < 3"))

    def writes(self, server: MariaDBServer, keys: int, seconds: float, seed: int) -> int:
        return random_writes(server, keys, seconds, seed)

    def rows(self, server: MariaDBServer) -> list[tuple]:
        return alltypes.snapshot(server, TABLE, extra=EXTRA)

    def differing(self, rows_a: list[tuple], rows_b: list[tuple]) -> list[str]:
        """Up to 5 differences, key by key, column by column."""
        by_a, by_b = {r[0]: r for r in rows_a}, {r[0]: r for r in rows_b}
        out: list[str] = []
        for key in sorted(set(by_a) | set(by_b)):
            ra, rb = by_a.get(key), by_b.get(key)
            if ra is None or rb is None:
                out.append(f"key {key}: {'only on b' if ra is None else 'only on a'}")
            else:
                out += [
                    d.replace("source", "a").replace("target", "b")
                    for d in alltypes.differences([ra], [rb], EXTRA)
                ]
            if len(out) >= 5:
                break
        return out[:5]


def _values(rng: random.Random, names: list[str]) -> dict[str, Any]:
    return {c: None if rng.random() < 0.1 else alltypes.GENERATORS[c][1](rng) for c in names}


def _sql(name: str, value: Any) -> str:
    return "NULL" if value is None else alltypes.GENERATORS[name][0]


def random_writes(server: MariaDBServer, keys: int, seconds: float, seed: int) -> int:
    """For ``seconds``: inserts of whole rows (ON DUPLICATE KEY UPDATE of a few columns), updates of 1-4
    columns, deletes, on keys ``key_of(0 .. keys-1)``; each write sets ``v`` to a new, increasing version
    (so newer_wins has an order). Returns the writes that changed a row."""
    rng = random.Random(seed)
    conn = alltypes.session(server)
    deadline = time.monotonic() + seconds
    changed = 0
    try:
        with conn.cursor() as cur:
            while time.monotonic() < deadline:
                key, op = alltypes.key_of(rng.randrange(keys)), rng.random()
                version = time.time_ns() // 1000 * 10 + seed % 10
                if op < 0.4:
                    values = _values(rng, alltypes.NAMES)
                    updated = rng.sample(alltypes.NAMES, rng.randint(1, 4))
                    sql = (
                        f"INSERT INTO {TABLE} (id, {', '.join(f'`{c}`' for c in values)}, v) VALUES (%s, "
                        + ", ".join(_sql(c, v) for c, v in values.items())
                        + ", %s) ON DUPLICATE KEY UPDATE "
                        + ", ".join(f"`{c}` = VALUES(`{c}`)" for c in updated)
                        + ", v = VALUES(v)"
                    )
                    args = [key, *(v for v in values.values() if v is not None), version]
                elif op < 0.8:
                    values = _values(rng, rng.sample(alltypes.NAMES, rng.randint(1, 4)))
                    sets = ", ".join(f"`{c}` = {_sql(c, v)}" for c, v in values.items())
                    sql = f"UPDATE {TABLE} SET {sets}, v = %s WHERE id = %s"
                    args = [*(v for v in values.values() if v is not None), version, key]
                else:
                    sql, args = f"DELETE FROM {TABLE} WHERE id = %s", [key]
                changed += _execute(cur, sql, args)
    finally:
        conn.close()
    return changed


def _execute(cur: Any, sql: str, args: list[Any]) -> int:
    """One autocommitted statement; again when it deadlocks with the loader writing the same rows."""
    for _attempt in range(20):
        try:
            cur.execute(sql, args)
            return int(cur.rowcount > 0)
        except pymysql.err.OperationalError as exc:
            if exc.args[0] not in (1205, 1213):
                raise
    raise AssertionError(f"the workload's statement deadlocked 20 times: {sql[:200]}")

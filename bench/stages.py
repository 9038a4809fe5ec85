"""The runner's per-event stages in process, without servers: CPU microseconds per event.

    python bench/stages.py [--events 100000] [--repeat 5] [--pure-python]
    python bench/stages.py --loader-server [--events 20000] [--repeat 3]

Builds the events that decoding gives for the benchmark's table (``bench/workloads.py``: id, qty, name,
price, at, note) and times, on them, each stage the runner applies after decoding: Extract, Transform,
the per-table counts, grouping per target, merge, the load plan, the MySQL loader's statement grouping and its statement text
(``_send_group`` with the sending left out). It reports the best of ``--repeat`` runs per stage, so that a
change to one stage can be measured on a busy machine where ``bench/oneway.py``'s rates are noise.
"""

from __future__ import annotations

import argparse
import datetime
import decimal
import gc
import inspect
import os
import time
import types
from collections.abc import Callable
from typing import Any


def make_events(kind: str, count: int) -> list[Any]:
    from otter_core.model import EventData, EventType

    U = EventType.UPDATE
    schema, table = "bench", "t"  # one rows event's events share these strings, as decoded ones do
    start = datetime.datetime(2024, 1, 1)
    note = "lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incidid 0123456"
    events = []
    for i in range(1, count + 1):
        cols = {
            "qty": i,
            "name": f"name-{i:08d}",
            "price": decimal.Decimal(f"{i % 10000000 / 100:.2f}"),
            "at": start + datetime.timedelta(seconds=i),
            "note": note,
        }
        if kind == "insert":
            events.append(EventData(schema, table, EventType.INSERT, keys={"id": i}, columns=cols, size=150))
        elif kind == "update":
            events.append(
                EventData(
                    schema,
                    table,
                    EventType.UPDATE,
                    keys={"id": i},
                    columns={**cols, "qty": i + 1},
                    old_columns=cols,
                    updated=frozenset({"qty"}),
                    size=300,
                )
            )
        elif kind == "oltp":  # sysbench oltp_write_only on one key: UPDATE k, UPDATE c, DELETE, INSERT
            changed = {**cols, "qty": i + 1}
            events += [
                EventData(
                    schema, table, U, keys={"id": i}, columns=changed, updated=frozenset({"qty"}), size=300
                ),
                EventData(
                    schema, table, U, keys={"id": i}, columns=cols, updated=frozenset({"name"}), size=300
                ),
                EventData(schema, table, EventType.DELETE, keys={"id": i}, columns=cols, size=150),
                EventData(schema, table, EventType.INSERT, keys={"id": i}, columns=changed, size=150),
            ]
            if len(events) >= count:
                break
        else:
            events.append(EventData(schema, table, EventType.DELETE, keys={"id": i}, columns=cols, size=150))
    return events


def as_chunks(events: list[Any]) -> list[tuple]:
    """The decoded chunks that give ``events``, one row each (an OLTP transaction's rows events hold one)."""
    from otter_core.model import EventType
    from otter_mysql.rowcodec import DELETE, UPDATE, WRITE

    chunks = []
    for e in events:
        if e.event_type is EventType.UPDATE:
            row = (e.keys, e.columns, e.old_keys, e.updated, e.size)
            chunks.append((UPDATE, e.schema, e.table, e.event_type, 1.0, [row]))
        else:
            kind = WRITE if e.event_type is EventType.INSERT else DELETE
            chunks.append((kind, e.schema, e.table, e.event_type, 1.0, [(e.keys, e.columns, e.size)]))
    return chunks


def sysbench_raw_transactions(count: int) -> tuple[Any, list[Any]]:
    """A RawExpander and ``count`` hand-over transactions as the selector process sends sysbench's
    ``oltp_write_only`` ones: raw rows-event bodies of ``sbtest1..4`` (id INT, k INT, c CHAR(120), pad
    CHAR(60), utf8mb4): UPDATE k, UPDATE c, DELETE and INSERT of one id, each statement on a table and
    id drawn at random (seeded), one row per rows event."""
    import random
    import struct

    from pymysqlreplication.constants import FIELD_TYPE

    from otter_core.model import EventType, Position, Transaction
    from otter_mysql.handover import RAW, RawExpander
    from otter_mysql.rowcodec import DELETE, UPDATE, WRITE
    from otter_mysql.schema import ColumnInfo, TableSchema

    infos = (
        ColumnInfo("id", 0, "int", "int(11)", nullable=False),
        ColumnInfo("k", 1, "int", "int(11)", nullable=False),
        ColumnInfo("c", 2, "char", "char(120)", charset="utf8mb4", nullable=False),
        ColumnInfo("pad", 3, "char", "char(60)", charset="utf8mb4", nullable=False),
    )
    by_name = {c.name: c for c in infos}
    names = [f"sbtest{t}" for t in range(1, 5)]
    layout = [
        types.SimpleNamespace(type=FIELD_TYPE.LONG),
        types.SimpleNamespace(type=FIELD_TYPE.LONG),
        types.SimpleNamespace(type=FIELD_TYPE.STRING, max_length=480),
        types.SimpleNamespace(type=FIELD_TYPE.STRING, max_length=240),
    ]
    codecs = tuple(
        (t + 1, TableSchema("sbtest", name, infos, ("id",), "PRIMARY", by_name), layout)
        for t, name in enumerate(names)
    )

    def image(i: int, k: int, c: str) -> bytes:
        pad = f"{i:011d}-{k:047d}".encode()
        return b"\x00" + struct.pack("<iiH", i, k, len(c)) + c.encode() + bytes([len(pad)]) + pad

    draw = random.Random(21)
    expander = RawExpander("bench", skip_errors=False)
    txns = []
    for n in range(count):
        (t1, i1), (t2, i2), (t3, i3) = ((draw.randrange(4), draw.randrange(1, 100_000)) for _ in range(3))
        c, c2 = f"{i2:011d}-" * 10, f"{n:011d}-" * 10
        statements = (
            (t1, UPDATE, EventType.UPDATE, image(i1, n, c) + image(i1, n + 1, c)),
            (t2, UPDATE, EventType.UPDATE, image(i2, n, c) + image(i2, n, c2)),
            (t3, DELETE, EventType.DELETE, image(i3, n, c2)),
            (t3, WRITE, EventType.INSERT, image(i3, n + 2, c)),
        )
        chunks = tuple(
            (
                RAW,
                "sbtest",
                names[t],
                etype,
                1.0,
                (t + 1, kind, b"\x0f", b"\x0f" if kind == UPDATE else None, body, "bin.000001", 100 + n),
            )
            for t, kind, etype, body in statements
        )
        txns.append(
            Transaction((), Position("bin.000001", 100 + n), 600, (codecs if n == 0 else (), chunks, False))
        )
    return expander, txns


def best_of(repeat: int, fn: Callable[[], Any]) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        fn()
        best = min(best, time.process_time() - started)
    return best


def measure(kind: str, count: int, repeat: int) -> dict[str, float]:
    from otter_core.engine.extract import Extractor
    from otter_core.engine.stats import count_by_table
    from otter_core.engine.transform import transform
    from otter_core.load.merge import merge_events

    try:
        from otter_core.load.plan import group_by_target, plan_groups
    except (
        ImportError
    ):  # an older otter (A/B runs from a worktree): the load plan took (target, weight, event)
        from otter_core.load.plan import plan_load

        group_by_target = None
    from otter_core.model import (
        DataMedia,
        DataMediaPair,
        DataMediaSource,
        Pipeline,
        PipelineParameters,
    )
    from otter_mysql.load_plan import StatementGroup
    from otter_mysql.loader import MySQLLoader, _Progress, _Slot

    pair = (
        DataMediaPair(DataMedia("sbtest", "*"), DataMedia("sbtest", "*"))
        if kind == "sysbench"
        else DataMediaPair(DataMedia("bench", "t"), DataMedia("bench", "t"))
    )
    params = PipelineParameters()
    pipeline = Pipeline("p", "src", "dst", (pair,), parameters=params)
    from otter_mysql.handover import build_events

    if kind == "sysbench":  # the events the runner expands from sysbench's hand-over transactions
        expander, txns = sysbench_raw_transactions(count // 4)
        events = [e for txn in txns for e in expander.expand(txn).events]
    else:
        events = make_events(kind, count)
    chunks = as_chunks(events)
    position = events[0].position
    extractor = Extractor(pipeline, {pair: []})
    extracted = extractor.extract(events)
    items = transform(pipeline, extracted)
    if group_by_target is not None:
        merged = {key: merge_events(events) for key, events in group_by_target(items).items()}

        def planning():
            return plan_groups(merged, params.load_pool_size)

        def grouping():
            return group_by_target(items)
    else:

        def planning():
            return plan_load(items, params.load_pool_size)

        def grouping():
            return None

    target = DataMediaSource(name="dst", type="mysql", host="127.0.0.1", port=1, user="u", password="p")
    loader = MySQLLoader(target, pipeline)
    loader._send_chunk = lambda *args: None  # the text is built; nothing is sent
    loaded = merge_events(events) if kind == "oltp" else events  # the loader sees merged events
    groups = loader._plan(loaded, None)
    columns = (
        ("id", "k", "c", "pad")
        if kind == "sysbench"
        else ("id", "qty")
        if kind == "update"
        else ("id",)
        if kind == "delete"
        else ("id", "qty", "name", "price", "at", "note")
    )
    head = (
        "DELETE FROM `bench`.`t` WHERE `id` IN (" if kind == "delete" else "INSERT INTO `bench`.`t` VALUES "
    )
    tail = ")" if kind == "delete" else " ON DUPLICATE KEY UPDATE `qty`=VALUES(`qty`)"
    group = StatementGroup(
        "DELETE" if kind == "delete" else "UPSERT",
        "bench",
        "t",
        columns,
        head,
        tail,
        (0, 1) if kind == "update" else None,
    )
    slot = _Slot(types.SimpleNamespace(encoding="utf8"), 64 << 20)  # a utf8mb4 connection's encoding
    if "compiled" not in inspect.signature(loader._send_group).parameters:  # older otter: no C chunk builder
        slot = _Slot(None, 64 << 20)
    if kind == "sysbench":  # the transactions as the selector process hands them over (4 events each)
        expand = expander.expand

        def expanding() -> None:
            for txn in txns:
                expand(txn)
    else:

        def expanding() -> None:
            return None

    stages = {
        "expand (raw sysbench transactions)": expanding,
        "build_events (1-row chunks)": lambda: build_events(chunks, position),
        "extract": lambda: extractor.extract(events),
        "transform": lambda: transform(pipeline, extracted),
        "count_by_table": lambda: count_by_table(e for _, e in extracted),
        "group_by_target": grouping,
        "merge": lambda: merge_events(events),
        "plan (load)": planning,
        "loader._plan": lambda: loader._plan(loaded, None),
        "loader._send_group": lambda: loader._send_group(None, slot, 0, group, loaded, _Progress()),
    }
    assert groups, "no statement groups"
    return {name: best_of(repeat, fn) / count * 1e6 for name, fn in stages.items()}


def loader_on_server(count: int, repeat: int, batch_size: int = 4000) -> None:
    """The MySQL loader on merged sysbench batches against a throwaway MariaDB (4 tables of 100k rows):
    the loader's CPU (this thread) and the server's per transaction, per target option ``multi_statement``,
    the modes alternated ``repeat`` times; loads one after the other, as ``plan_groups`` splits a batch."""
    import shutil
    import tempfile

    from procstat import cpu_seconds

    from otter_core.load.merge import merge_events
    from otter_core.load.plan import plan_groups
    from otter_core.model import DataMediaSource, Pipeline, PipelineParameters, SyncMode
    from otter_core.testing.mariadb import OTTER_PASSWORD, OTTER_USER, MariaDBServer
    from otter_mysql.loader import MySQLLoader

    expander, txns = sysbench_raw_transactions(count)
    events = [e for txn in txns for e in expander.expand(txn).events]
    params = PipelineParameters(sync_mode=SyncMode.FIELD)
    loads = []  # (slot, events) in the runner's order
    for start in range(0, len(events), batch_size):
        merged = merge_events(events[start : start + batch_size])
        for phase in plan_groups({("dst", 0): merged}, params.load_pool_size):
            for step in phase:
                loads.extend(enumerate(step.partitions))
    workdir = tempfile.mkdtemp(prefix="otter-stages-")
    server = MariaDBServer(workdir, log_bin=False, innodb_buffer_pool_size="256M").start()
    try:
        columns = "id INT PRIMARY KEY, k INT NOT NULL DEFAULT 0, c CHAR(120) NOT NULL, pad CHAR(60) NOT NULL"
        server.execute(
            "CREATE DATABASE sbtest",
            *(
                f"CREATE TABLE sbtest.sbtest{t} ({columns}, KEY k_{t} (k)) CHARSET utf8mb4"
                for t in range(1, 5)
            ),
            *(
                f"INSERT INTO sbtest.sbtest{t} SELECT seq, seq, REPEAT('c', 119), REPEAT('p', 59) "
                "FROM sbtest.seq_1_to_100000"
                for t in range(1, 5)
            ),
        )
        pid = server.process.pid
        totals: dict[str, list[tuple[float, float]]] = {"multi": [], "one by one": []}
        for _ in range(repeat):
            for mode in totals:
                target = DataMediaSource(
                    name="dst",
                    type="mysql",
                    host="127.0.0.1",
                    port=server.port,
                    user=OTTER_USER,
                    password=OTTER_PASSWORD,
                    options={"multi_statement": mode == "multi"},
                )
                loader = MySQLLoader(target, Pipeline("p", "src", "dst", (), parameters=params))
                try:
                    for slot in range(params.load_pool_size):
                        loader._slot(slot)
                    server_before, client_before = cpu_seconds(pid), time.thread_time()
                    for slot, part in loads:
                        loader.load(part, slot)
                    client = time.thread_time() - client_before
                    totals[mode].append((client, cpu_seconds(pid) - server_before))
                finally:
                    loader.close()
        print(
            f"MySQL loader on {count:,} sysbench transactions ({len(loads)} loads, batches of {batch_size} "
            f"events, merged), CPU µs per transaction, {repeat} alternated rounds: loader (this thread) / server"
        )
        for mode, runs in totals.items():
            shown = ", ".join(f"{c / count * 1e6:.1f} / {s / count * 1e6:.1f}" for c, s in runs)
            print(f"| {mode} | {shown} |")
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--pure-python", action="store_true", help="without the compiled extension")
    parser.add_argument(
        "--loader-server",
        action="store_true",
        help="only the MySQL loader on sysbench batches against a throwaway MariaDB (--events transactions)",
    )
    args = parser.parse_args()
    if args.loader_server:
        loader_on_server(args.events, args.repeat)
        return
    if args.pure_python:
        os.environ["OTTER_PURE_PYTHON_DECODER"] = "1"
    from otter_core.engine.allocator import tune_process

    tune_process()  # the runner's garbage collector settings
    results = {}
    for kind in ("insert", "update", "delete", "oltp", "sysbench"):
        gc.collect()  # the previous kind's objects are gone before this one is measured
        results[kind] = measure(kind, args.events, args.repeat)
    names = list(results["insert"])
    print(f"CPU microseconds per event, best of {args.repeat} runs over {args.events:,} events")
    print("(oltp: sysbench's UPDATE, UPDATE, DELETE, INSERT of one key: 4 events per transaction, the loader")
    print(" stages on the merged events, one per key; sysbench: its transactions on 4 tables, statements on")
    print(
        " random tables and ids as oltp_write_only writes them, from the raw hand-over on; the loader's text"
    )
    print(" stage with the bench table's statement head)")
    print(f"| stage | {' | '.join(results)} |")
    print(f"|---|{'---|' * len(results)}")
    for name in names:
        print(f"| {name} | {' | '.join(f'{results[k][name]:.3f}' for k in results)} |")
    print(f"| total | {' | '.join(f'{sum(r.values()):.3f}' for r in results.values())} |")


if __name__ == "__main__":
    main()

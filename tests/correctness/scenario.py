"""One harness example end to end: a fresh schema, a pipeline process on one load path, the workload on
the source, faults on the way, and source and target compared row by row at the end."""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from hypothesis import strategies as st

from otter_core.testing.mariadb import MariaDBServer
from tests.correctness.catalogue import KEY_SHAPES, KeyShape, create_table_sql
from tests.correctness.differ import compare
from tests.correctness.otter_process import LoadPath, OtterProcess
from tests.correctness.workload import apply_workload, describe, on_tables, workload

_schemas = itertools.count(1)


def case(
    max_transactions: int, keys: list[KeyShape] | None = None, tables: tuple[str, ...] = ("t",)
) -> st.SearchStrategy[tuple[KeyShape, list]]:
    """A key shape (of ``keys``, default all) and a workload over it on ``tables`` (``LoadPath.tables``)."""
    if len(tables) > 1:
        return st.sampled_from(keys or KEY_SHAPES).flatmap(
            lambda key: st.tuples(st.just(key), on_tables(key, max_transactions, tables))
        )
    return st.sampled_from(keys or KEY_SHAPES).flatmap(
        lambda key: st.tuples(st.just(key), workload(key, max_transactions))
    )


@contextmanager
def example_schema(
    source: MariaDBServer, target: MariaDBServer, key: KeyShape, tables: tuple[str, ...] = ("t",)
) -> Iterator[str]:
    """A fresh schema with the harness tables on both servers (dropped again afterwards)."""
    schema = f"diff_{os.getpid()}_{next(_schemas)}"
    for server in (source, target):
        server.execute(*create_table_sql(schema, key, tables))
    try:
        yield schema
    finally:
        for server in (source, target):
            if server.process is not None:
                server.execute(f"DROP DATABASE IF EXISTS `{schema}`")
                # the example's otter-run has stopped: its binlog can go. The servers live for the whole
                # session, and a soak's examples (values up to 1.1 MB, many transactions) wrote 50 GB in
                # ten minutes when nothing was purged
                server.execute("FLUSH BINARY LOGS", "PURGE BINARY LOGS BEFORE NOW()")


def assert_equal(
    source: MariaDBServer,
    target: MariaDBServer,
    schema: str,
    key: KeyShape,
    path: LoadPath,
    transactions: list,
    otter: OtterProcess,
) -> None:
    differences = compare(source, target, schema, key, path.tables)
    if differences:
        raise AssertionError(
            f"load path {path.name}, key shape {key.name}: the target differs from the source:\n"
            + "\n".join(differences)
            + f"\n\nworkload:\n{describe(schema, key, transactions)}\n\notter-run log tail:\n{otter.log_tail(1500)}"
        )


def run_example(
    source: MariaDBServer,
    target: MariaDBServer,
    path: LoadPath,
    key: KeyShape,
    transactions: list,
    fault: Callable[[OtterProcess, threading.Event], None] | None = None,
    pause: float = 0.0,
    midway: Callable[[], None] | None = None,
) -> None:
    """Run ``transactions`` on the source (a thread, ``pause`` s between transactions, ``midway()`` after
    the first half) while the pipeline loads them; ``fault(otter, writes_done)`` runs meanwhile in this
    thread. Then wait until the pipeline caught up and compare."""
    workdir = Path(tempfile.mkdtemp(prefix="otter-diff-"))
    with example_schema(source, target, key, path.tables) as schema:
        if path.load_chunk_rows:  # the first rows exist before the pipeline: the initial load copies them
            apply_workload(source, schema, key, transactions[:1])
        otter = OtterProcess(path, source, target, schema, workdir).start()
        try:
            done = threading.Event()
            errors: list[BaseException] = []

            def write() -> None:
                try:
                    for i, tx in enumerate(transactions_left):
                        if midway is not None and i == len(transactions_left) // 2:
                            midway()
                        apply_workload(source, schema, key, [tx])
                        if pause:
                            time.sleep(pause)
                except BaseException as exc:  # re-raised below
                    errors.append(exc)
                finally:
                    done.set()

            # the first transaction (every row) is loaded first: later changes are then UPDATEs of rows the
            # target has, as in a running pipeline, not merged into their INSERT in one batch
            if not path.load_chunk_rows:
                apply_workload(source, schema, key, transactions[:1])
                otter.wait_caught_up(allowed_rollbacks=1)
            transactions_left = transactions[1:]
            writer = threading.Thread(target=write, name="harness-writer", daemon=True)
            writer.start()
            if fault is not None:
                fault(otter, done)
            writer.join(300)
            if errors:
                raise errors[0]
            if path.load_chunk_rows:  # the later transactions ran while the chunks were read
                otter.wait_loaded()
            otter.wait_caught_up(allowed_rollbacks=1 if fault is None and midway is None else 3)
            assert_equal(source, target, schema, key, path, transactions, otter)
            if path.takes_bulk_path:  # the chunks went the bulk path, none fell back to the row path
                text = otter.log_path.read_text(errors="replace")
                assert "travel as blocks (bulk path)" in text, otter.log_tail()
                assert "through the row path" not in text, otter.log_tail()
        finally:
            otter.stop()
    shutil.rmtree(workdir, ignore_errors=True)

"""Differential harness, every load path: generated tables over every column type and generated DML,
loaded by one load path, end with the target equal to the source row by row (docs/correctness.md)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from tests.correctness.catalogue import KEY_SHAPES, table_names
from tests.correctness.conftest import EXAMPLES, scaled
from tests.correctness.otter_process import LoadPath
from tests.correctness.scenario import case, run_example

pytestmark = pytest.mark.usefixtures("clean_databases")

# When you add a fast path (or a switch that chooses one), add the LoadPath that takes it here.
# The binlog's compiled event loop (_native/binlog.c) is taken by the *-c-process paths (the selector
# process defers decoding); the Python loop by field-upsert-python-process and the in-thread paths.
# The *-c-process paths also hand their transactions over packed (_native/handover.c), falling back to
# the plain tuples for a table's first transaction; field-join-c-process-unpacked sends every one plain.
# Their binlog loop packs plain transactions as it reads them (_native/scanrun.c), and rewinds any other
# to its GTID event; field-join-c-process-handover-packs leaves all packing to the hand-over.
PATHS = [
    LoadPath("row-c-process", sync_mode="row"),
    # every path commits with the load's last statement (the loader's _commit_block); this one alone
    LoadPath("row-c-process-commit-alone", sync_mode="row", one_trip_commit=False),
    # every compiled path sends a load's statements in one multi-statement query (otter_mysql.multi_statement)
    # when that saves a round trip; this one statement by statement
    LoadPath("field-join-c-process-one-by-one", multi_statement=False),
    LoadPath(
        "row-python-thread-tiny", sync_mode="row", pure_python=True, select_process=False, chunks="tiny"
    ),
    LoadPath("field-join-c-process"),  # the default configuration
    LoadPath("field-join-c-process-unpacked", packed_handover=False),
    LoadPath("field-join-c-process-handover-packs", scan_runs=False),
    LoadPath("field-join-python-thread-tiny", pure_python=True, select_process=False, chunks="tiny"),
    LoadPath("field-join-c-thread-large", select_process=False, chunks="large"),
    LoadPath("field-upsert-c-thread-large", update_join=False, select_process=False, chunks="large"),
    LoadPath("field-upsert-python-process", update_join=False, pure_python=True),
    # the selector's binlog reader: every path above reads with otter's own; this one with mysql-replication
    LoadPath("field-join-c-process-library-reader", binlog_reader="library"),
    # the initial load: chunk rows read in C and sent as their packets (bulk_read) straight into the
    # upsert (snapshot_bulk, bulk_load), the same packets as row events, and PyMySQL's path
    LoadPath("initial-load-bulk-c-process", load_chunk_rows=3),
    LoadPath("initial-load-bulk-c-thread-tiny", select_process=False, chunks="tiny", load_chunk_rows=4),
    # one row per chunk: a batch carries many chunks, loaded at the same time over the pool's four
    # connections (snapshot_bulk._load_blocks), while the later transactions run
    LoadPath("initial-load-bulk-c-process-parallel", load_chunk_rows=1),
    # two tables (each every type, its own workload; transactions span both): a batch carries chunks of
    # both (the load alternates the open tables' chunks, SnapshotStore.open_tables), on the bulk path
    # and on the row path
    LoadPath("initial-load-bulk-c-process-two-tables", load_chunk_rows=2, tables=table_names(2)),
    LoadPath("initial-load-c-process", load_chunk_rows=3, bulk_load=False),
    LoadPath(
        "initial-load-c-thread-two-tables",
        select_process=False,
        load_chunk_rows=2,
        bulk_load=False,
        tables=table_names(2),
    ),
    LoadPath("initial-load-python-thread", pure_python=True, select_process=False, load_chunk_rows=2),
]


def _cases() -> list:
    cases = []
    for path in PATHS:
        for key in KEY_SHAPES:
            cases.append(pytest.param(path, key, id=f"{path.name}-{key.name}"))
    return cases


@pytest.mark.parametrize(("path", "key"), _cases())
def test_target_equals_source(path, key, mariadb_source, mariadb_target, request):
    @settings(max_examples=scaled(3))
    @given(case(max_transactions=8, keys=[key], tables=path.tables))
    def check(generated):
        EXAMPLES[request.node.name] += 1
        _, transactions = generated
        run_example(mariadb_source, mariadb_target, path, key, transactions)

    check()

"""Differential harness under faults: kill -9 of otter-run at random points, a target restart and a
source restart while generated transactions flow; each example ends with source and target equal row
by row (docs/correctness.md)."""

from __future__ import annotations

import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.correctness.catalogue import KEY_SHAPES, table_names
from tests.correctness.conftest import EXAMPLES, scaled
from tests.correctness.otter_process import LoadPath, OtterProcess
from tests.correctness.scenario import case, run_example

pytestmark = pytest.mark.usefixtures("clean_databases")
PACE = 0.05  # s between the source's transactions: the faults land while they flow
INT_KEY = [k for k in KEY_SHAPES if k.name == "int"]

KILL_CASES = [
    pytest.param(LoadPath("row-c-process", sync_mode="row"), None, id="row-c-process"),
    pytest.param(
        LoadPath("field-upsert-python-process", update_join=False, pure_python=True),
        None,
        id="field-upsert-python-process",
    ),
    pytest.param(LoadPath("field-join-c-process"), INT_KEY, id="field-join-c-process-int"),
    # killed during an initial load of two tables whose chunks alternate: the restarted load resumes each
    # table after its own last acked chunk while the transactions go on
    pytest.param(
        LoadPath("initial-load-bulk-c-process-two-tables", load_chunk_rows=2, tables=table_names(2)),
        INT_KEY,
        id="initial-load-two-tables-int",
    ),
]


@pytest.mark.parametrize(("path", "keys"), KILL_CASES)
def test_kill9_at_random_points(path, keys, mariadb_source, mariadb_target, request):
    @settings(max_examples=scaled(2))
    @given(
        case(max_transactions=24, keys=keys, tables=path.tables),
        st.lists(st.floats(0.05, 1.5), min_size=1, max_size=3),
    )
    def check(generated, delays):
        EXAMPLES[request.node.name] += 1

        def kill_and_restart(otter: OtterProcess, done: threading.Event) -> None:
            for delay in delays:
                time.sleep(delay)
                otter.kill9()
                otter.start()

        run_example(mariadb_source, mariadb_target, path, *generated, fault=kill_and_restart, pause=PACE)

    check()


def _restart(server) -> None:
    try:
        server.stop()
        time.sleep(0.5)
    finally:
        server.start()


@pytest.mark.parametrize("which", ["target", "source"])
def test_server_restart_mid_workload(which, mariadb_source, mariadb_target, request):
    path = LoadPath("row-c-process", sync_mode="row")
    server = mariadb_target if which == "target" else mariadb_source

    @settings(max_examples=scaled(2))
    @given(case(max_transactions=12))
    def check(generated):
        EXAMPLES[request.node.name] += 1
        run_example(
            mariadb_source, mariadb_target, path, *generated, pause=PACE, midway=lambda: _restart(server)
        )

    check()

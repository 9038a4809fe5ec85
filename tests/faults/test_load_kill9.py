"""The initial load under continuous writes survives two kill -9, resumes at chunk granularity, and ends with
verify reporting 0 differences; then verify --repair finds and fixes exactly the rows corrupted on purpose.

100k rows here; ``python bench/load_verify.py --rows 1000000`` runs the same scenario on 1M rows."""

import pytest

from otter_core.testing.load_scenario import LoadScenario

pytestmark = pytest.mark.usefixtures("clean_databases")
ROWS = 100_000
CHUNK_ROWS = 2_000
# what a kill can lose: the chunks emitted and not yet acked, at most what the window holds (the
# scenario's pipeline: parallelism 4, batch_size 5000, plus the batch loading and the one being cut)
LOST_PER_KILL = (4 + 2) * -(-5000 // CHUNK_ROWS)


def test_load_killed_twice_then_verified_and_repaired(mariadb_source, mariadb_target, tmp_path):
    scenario = LoadScenario(mariadb_source, mariadb_target, tmp_path, ROWS, chunk_rows=CHUNK_ROWS)
    results = scenario.run(kills_at=(0.25, 0.6))
    total = sum(results["tables"].values())
    assert total >= ROWS - 10 and results["load_state"] == "done"
    assert len(results["killed_at_rows"]) == 2, results
    # each restart went on after the last acked chunk instead of starting over (a retry inside a run,
    # after a deadlock say, resumes too: so one resume at least after each kill, not exactly two)
    resumes = results["resumes"]
    assert all(any(r["at"] > killed for r in resumes) for killed in results["killed_at_times"]), results
    assert all(r["after"] or r["table"] != "loadtest.events" for r in resumes)
    assert results["chunks"] <= total / CHUNK_ROWS + len(results["tables"]) + 2 * LOST_PER_KILL, results
    for step in ("verify_live", "verify_after_load"):
        assert results[step]["exit"] == 0 and results[step]["differences"] == 0, results[step]
        assert results[step]["rows"] >= 0.9 * total  # the writer deletes some
    corrupted = results["corrupted"]
    found = results["verify_corrupt"]
    assert found["exit"] == 1 and found["found"] == corrupted and found["differences"] == 15
    assert found["tables"] == {
        "loadtest.events": {"missing": 3, "extra": 0, "different": 0},
        "loadtest.lines": {"missing": 0, "extra": 0, "different": 3},
        "loadtest.orders": {"missing": 0, "extra": 3, "different": 4},
        "loadtest.tags": {"missing": 2, "extra": 0, "different": 0},
    }
    repair = results["verify_repair"]
    assert repair["exit"] == 0 and repair["found"] == corrupted and repair["repaired"] == 15
    assert repair["differences"] == 0
    assert results["verify_final"]["exit"] == 0 and results["verify_final"]["differences"] == 0
    assert results["runner_exit"] == 0

"""Two real servers, random inserts/updates/deletes on both sides on the same keys, then quiet: both sides
hold the same rows, for every conflict policy (manual: after resolving what it parked), and the binlogs
stop growing (no ping-pong). The repeated version is bench/twoway_convergence.py."""
import pytest

from otter_core.testing.twoway import converge

pytestmark = pytest.mark.usefixtures("clean_databases")


KNOWN_LIMIT = pytest.mark.xfail(strict=False, reason="converged in 9 of 10 bench runs (bench/twoway_convergence.py, "
                                "docs/benchmarks.md): a rare divergence under heavy crossing writes is not found yet")


@pytest.mark.parametrize("policy", ["home_wins", pytest.param("newer_wins(v)", marks=KNOWN_LIMIT), "source_wins",
                                    pytest.param("manual", marks=KNOWN_LIMIT)])
def test_overlapping_writes_converge(mariadb_source, mariadb_target, tmp_path, policy):
    result = converge(mariadb_source, mariadb_target, policy, str(tmp_path / "state"), seconds=2, keys=40)
    print(result)
    assert result.converged, result
    assert result.rows > 5 and result.writes > 50
    assert result.conflicts > 0  # the keys overlap: the run did meet conflicts
    assert result.binlog_bytes_after_quiet == 0
    if policy == "manual":
        assert result.parked_resolved > 0

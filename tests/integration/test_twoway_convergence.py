"""Two real servers, random inserts/updates/deletes on both sides on the same keys, then quiet: both sides
hold the same rows, for every conflict policy (manual: after resolving what it parked), and the binlogs
stop growing (no ping-pong); also on a table of every MariaDB type, in field and row mode. The repeated
version is bench/twoway_convergence.py. Below them, one deterministic test per cause of a divergence or
failed run the bench found."""

import time

import pytest

from otter_core.config import load_config_text
from otter_core.conflicts import list_conflicts
from otter_core.testing.harness import running
from otter_core.testing.twoway import SELECT_ROWS, converge, make_table, resolve_all, twoway_yaml, wait_quiet
from otter_core.testing.twoway_types import EveryTypeWorkload

pytestmark = pytest.mark.usefixtures("clean_databases")


@pytest.mark.parametrize("policy", ["home_wins", "newer_wins(v)", "source_wins", "manual"])
def test_overlapping_writes_converge(mariadb_source, mariadb_target, tmp_path, policy):
    result = converge(mariadb_source, mariadb_target, policy, str(tmp_path / "state"), seconds=2, keys=40)
    print(result)
    assert result.converged, result
    assert result.rows > 5 and result.writes > 50
    assert result.conflicts > 0  # the keys overlap: the run did meet conflicts
    assert result.binlog_bytes_after_quiet == 0
    if policy == "manual":
        assert result.parked_resolved > 0


def _wait_parked(config, runner, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not list_conflicts(config, status="parked"):
        assert not runner.failures() and time.monotonic() < deadline, runner.status()
        time.sleep(0.1)
    return list_conflicts(config, status="parked")


def test_manual_resolves_a_key_parked_on_one_side_even_when_the_rows_already_match(
    mariadb_source, mariadb_target, tmp_path
):
    """Cause of the manual bench's divergences: the resolve loop stopped as soon as both sides held the same
    rows, leaving a key parked on one side whose later changes there happened to end on the other side's row."""
    a, b = mariadb_source, mariadb_target
    make_table(a, b)
    for server in (a, b):
        server.execute("INSERT INTO shop.c VALUES (1, 'x', 1, 1)")
    text = twoway_yaml(a, b, "manual", home=False)
    config = load_config_text(text)
    with running(text, str(tmp_path / "state")) as runner:
        b.execute(
            "SET SESSION sql_log_bin = 0", "UPDATE shop.c SET status = 'y', v = 2 WHERE id = 1"
        )  # b only
        a.execute("UPDATE shop.c SET status = 'z', v = 3 WHERE id = 1")  # reaches b: parked there (b has 'y')
        (parked,) = _wait_parked(config, runner)
        assert (parked.id.split(":")[0], parked.kind) == ("b", "update-changed")
        a.execute(
            "SET SESSION sql_log_bin = 0", "UPDATE shop.c SET status = 'y', v = 2 WHERE id = 1"
        )  # a only
        assert a.execute(SELECT_ROWS) == b.execute(SELECT_ROWS)  # equal rows, one key still parked on b
        sources = {"a": a, "b": b}
        settled = wait_quiet(runner, a, b, quiet=1.0, timeout=60, sources=sources)
        resolved, _ = resolve_all(runner, config, a, b, sources, time.monotonic(), settled)
        assert resolved == 1
        assert list_conflicts(config, status="parked") == []
        assert a.execute(SELECT_ROWS) == b.execute(SELECT_ROWS) == [(1, "y", 1, 2)]


@pytest.mark.parametrize(
    "policy, sync_mode",
    [
        (None, "field"),
        ("home_wins", "field"),
        ("newer_wins(v)", "field"),
        ("source_wins", "field"),
        ("manual", "field"),
        ("newer_wins(v)", "row"),
    ],
)
def test_every_type_converges(mariadb_source, mariadb_target, tmp_path, policy, sync_mode):
    """The every-type table (otter_core.testing.alltypes) through a two-way channel: both sides write the
    same keys, then both are compared column by column (GEOMETRY as WKB, JSON normalised, the rest as
    stored bytes). Field mode is left to its default; row mode is set."""
    parameters = {} if sync_mode == "field" else {"sync_mode": sync_mode}
    result = converge(
        mariadb_source,
        mariadb_target,
        policy,
        str(tmp_path / "state"),
        seconds=2,
        keys=12,
        workload=EveryTypeWorkload(),
        **parameters,
    )
    print(result)
    assert result.converged, result
    assert result.rows > 3 and result.writes > 20
    assert result.binlog_bytes_after_quiet == 0
    if policy:
        assert result.conflicts > 0  # the keys overlap: the run did meet conflicts
    if policy == "manual":
        assert result.parked_resolved > 0


def test_quiet_when_a_binlog_ends_with_a_checkpoint_after_a_rotation(
    mariadb_source, mariadb_target, tmp_path
):
    """Cause of the every-type bench's one failed run (manual, 120 s "binlogs still growing"): its large rows
    rotated a's binlog, which then ended with a Binlog_checkpoint event; the pipeline acks transactions, so
    its position stayed 43 bytes before the end and the run waited for an ack that never comes."""
    a, b = mariadb_source, mariadb_target
    make_table(a, b)
    text = twoway_yaml(a, b, "home_wins")
    sources = {"a": a, "b": b}
    with running(text, str(tmp_path / "state")) as runner:
        a.execute("INSERT INTO shop.c VALUES (1, 'x', 1, 1)")
        wait_quiet(runner, a, b, quiet=0.5, timeout=60, sources=sources)
        a.execute("FLUSH BINARY LOGS")  # a new file: Format_desc, Gtid_list, Binlog_checkpoint events only
        deadline = time.monotonic() + 30
        while (
            a.execute("SHOW BINLOG EVENTS IN %s", args=(a.binlog_position()[0],))[-1][2]
            != "Binlog_checkpoint"
        ):
            assert time.monotonic() < deadline, "no Binlog_checkpoint at the end of the new binlog file"
            time.sleep(0.1)
        wait_quiet(runner, a, b, quiet=0.5, timeout=20, sources=sources)  # returns: nothing left to ack
        b.execute("INSERT INTO shop.c VALUES (2, 'y', 2, 2)")  # a real transaction after it is still awaited
        wait_quiet(runner, a, b, quiet=0.5, timeout=60, sources=sources)
        assert a.execute(SELECT_ROWS) == b.execute(SELECT_ROWS) == [(1, "x", 1, 1), (2, "y", 2, 2)]

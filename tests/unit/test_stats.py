"""PipelineStats against known batches at known clock times: rates, lag and state are exact."""

import pytest

from otter_core.engine.stats import RATE_WINDOW_SECONDS, PipelineStats
from otter_core.model import Position
from otter_core.progress import format_status


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def stats_at(clock: Clock, **kwargs) -> PipelineStats:
    return PipelineStats("ch", "p", clock=clock, **kwargs)


def load(stats: PipelineStats, clock: Clock, at: float, rows: int, commit: float | None = None, pid=None):
    clock.now = at
    commit = at if commit is None else commit
    stats.record_batch(
        rows, Position("bin.1", int(at * 10), None, int(commit)), commit, rows * 100, None, None, pid
    )


def test_small_batches_at_5000_rows_per_second_show_5000():
    """10 rows every 2 ms for 10 s: 5,000 rows/s (the old 64-batch deque divided by 1 s showed 640)."""
    clock = Clock(1000.0)
    stats = stats_at(clock)
    for i in range(5000):
        load(stats, clock, 1000.0 + 0.002 * (i + 1), 10)
    clock.now = 1010.0
    summary = stats.summary(idle=False)
    assert summary["rows"] == 50_000
    assert summary["rows_per_s"] == pytest.approx(5000.0, rel=0.01)
    assert summary["bytes_per_s"] == pytest.approx(500_000.0, rel=0.01)


def test_rate_is_rows_of_the_window_divided_by_the_window():
    clock = Clock(0.0)
    stats = stats_at(clock)
    load(stats, clock, 100.05, 300)  # before the window ending at 106.0: not counted
    load(stats, clock, 101.55, 1000)
    load(stats, clock, 103.05, 2000)
    load(stats, clock, 105.95, 500)
    clock.now = 106.0
    assert stats.rows_per_second() == pytest.approx(3500 / RATE_WINDOW_SECONDS)


def test_rate_decays_to_zero_within_the_window_after_writes_stop():
    clock = Clock(0.0)
    stats = stats_at(clock)
    for i in range(100):
        load(stats, clock, 50.0 + i * 0.05, 100)  # 2,000 rows/s for 5 s
    clock.now = 55.0
    assert stats.rows_per_second() == pytest.approx(2000.0, rel=0.02)
    clock.now = 57.5
    assert stats.rows_per_second() == pytest.approx(1000.0, rel=0.05)  # half the window still has rows
    clock.now = 55.0 + RATE_WINDOW_SECONDS + 0.2
    assert stats.rows_per_second() == 0.0
    assert stats.summary(idle=True)["rows_per_s"] == 0.0


def test_first_seconds_divide_by_the_time_since_counting_began():
    clock = Clock(200.0)
    stats = stats_at(clock)
    load(stats, clock, 201.5, 3000)
    clock.now = 202.0
    assert stats.rows_per_second() == pytest.approx(1500.0)


def test_lag_grows_from_the_oldest_unapplied_event_while_nothing_is_applied():
    clock = Clock(500.0)
    stats = stats_at(clock, stall_seconds=30.0)
    stats.state = "running"
    load(stats, clock, 500.5, 10, commit=500.0, pid=1)
    clock.now = 501.0
    stats.selected(2, 501.0)  # a batch committed at 501 is read...
    stats.selected(3, 502.0)
    clock.now = 510.0  # ...and not applied: the lag is counted from it, not from the last load
    assert stats.summary(idle=False)["lag_s"] == pytest.approx(9.0)
    clock.now = 540.0
    summary = stats.summary(idle=False)
    assert summary["lag_s"] == pytest.approx(39.0) and summary["state"] == "stalled"
    load(stats, clock, 541.0, 10, commit=501.0, pid=2)
    summary = stats.summary(idle=False)
    assert summary["lag_s"] == pytest.approx(39.0)  # batch 3 (commit 502) still waits
    assert summary["state"] == "running"  # something was applied just now
    load(stats, clock, 541.5, 10, commit=502.0, pid=3)
    assert stats.summary(idle=False)["lag_s"] == pytest.approx(39.5)  # the last batch's own delay
    assert stats.summary(idle=True)["lag_s"] == 0.0


def test_a_rollback_keeps_the_lag_growing_until_the_replay_is_read_again():
    clock = Clock(0.0)
    stats = stats_at(clock)
    stats.state = "running"
    clock.now = 100.0
    stats.selected(7, 99.0)
    stats.selected(8, 99.5)
    stats.rolled_back()  # the target refused: batches 7 and 8 are dropped
    stats.retrying(1, 2.0)
    clock.now = 101.0
    summary = stats.summary(idle=True)  # nothing in flight, yet the events are not applied
    assert summary["state"] == "retrying" and summary["attempt"] == 1
    assert summary["next_try_time"] == pytest.approx(102.0) and summary["lag_s"] == pytest.approx(2.0)
    assert "retrying (retry 1, next in 1s)" in format_status(summary, now=101.0)
    clock.now = 160.0
    stats.rolled_back()  # failed again before reading anything: still the same oldest event
    stats.retrying(2, 4.0)
    assert stats.summary(idle=True)["lag_s"] == pytest.approx(61.0)
    stats.selected(9, 99.0)  # the replay reads it again
    load(stats, clock, 170.0, 5, commit=99.5, pid=9)
    summary = stats.summary(idle=False)
    assert summary["state"] == "running" and summary["attempt"] == 0
    assert summary["lag_s"] == pytest.approx(70.5)  # the delay of the replayed batch (its last commit)
    clock.now = 172.0
    assert stats.summary(idle=True)["lag_s"] == 0.0


def test_a_pipeline_waiting_less_than_the_stall_threshold_is_running():
    clock = Clock(0.0)
    stats = stats_at(clock, stall_seconds=60.0)
    stats.state = "running"
    stats.selected(1, 10.0)
    clock.now = 59.0
    assert stats.summary(idle=False)["state"] == "running"
    clock.now = 61.0
    assert stats.summary(idle=False)["state"] == "stalled"
    stats.state = "paused"  # an operator's pause is not a stall
    assert stats.summary(idle=False)["state"] == "paused"

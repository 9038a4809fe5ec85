"""BatchReaper: a loaded batch's objects are freed on the reaper's thread, not on the load thread, and
``freed`` (the runner leaves the memory window there) is called only once they are."""

from __future__ import annotations

import threading
import time

from otter_core.engine.reaper import BatchReaper


class Freed:
    """Records the thread that frees it; ``hold`` seconds of work in its finaliser (a big batch)."""

    def __init__(self, log: list, hold: float = 0.0) -> None:
        self.log, self.hold = log, hold

    def __del__(self) -> None:
        time.sleep(self.hold)
        self.log.append(threading.current_thread().name)


def test_a_batch_is_freed_on_the_reaper_thread_while_the_caller_goes_on_then_reported_freed():
    log: list[str] = []
    reaper = BatchReaper("p")
    try:
        started = time.monotonic()
        reaper.put([Freed(log, hold=0.3)], lambda: log.append("freed"))
        assert time.monotonic() - started < 0.2  # the caller does not wait for the freeing
        deadline = time.monotonic() + 5
        while len(log) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert log == ["reaper-p", "freed"]  # the window is left only after the memory is free
    finally:
        reaper.close()


def test_at_most_one_batch_waits_and_close_frees_what_is_left():
    log: list[str] = []
    reaper = BatchReaper("p")
    started = time.monotonic()
    for n in range(3):  # the first is being freed, the second waits, the third put waits for room
        reaper.put([Freed(log, hold=0.2)], lambda n=n: log.append(f"freed {n}"))
    assert time.monotonic() - started >= 0.15  # garbage does not pile up behind a slow freeing
    reaper.close()
    assert log == ["reaper-p", "freed 0", "reaper-p", "freed 1", "reaper-p", "freed 2"]


def test_a_failing_callback_is_logged_and_the_reaper_goes_on(caplog):
    log: list[str] = []
    reaper = BatchReaper("p")
    try:

        def fails() -> None:
            raise RuntimeError("window gone")

        reaper.put([Freed(log)], fails)
        for n in range(2):  # a dead reaper would leave the second put blocked for good
            reaper.put([Freed(log)], lambda n=n: log.append(f"freed {n}"))
    finally:
        reaper.close()
    assert log == ["reaper-p", "reaper-p", "freed 0", "reaper-p", "freed 1"]
    assert "freeing a loaded batch failed" in caplog.text

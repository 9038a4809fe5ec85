"""Test support for fencing tokens: a takeover must wait for a stale holder's transaction in flight."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


def assert_takeover_waits(take_over: Callable[[], None], end_stale: Callable[[], None]) -> None:
    """``take_over()`` (in a thread) is still blocked after 1 s while the stale transaction is open, and
    finishes within 10 s once ``end_stale()`` committed it."""
    done = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        try:
            take_over()
        except BaseException as exc:  # reported to the test below
            failure.append(exc)
        done.set()

    threading.Thread(target=run, daemon=True).start()
    time.sleep(1.0)
    assert not done.is_set(), f"the takeover did not wait for the stale transaction ({failure or 'returned'})"
    end_stale()
    assert done.wait(10), "the takeover did not finish after the stale transaction ended"
    assert not failure, f"the takeover failed: {failure[0]!r}"

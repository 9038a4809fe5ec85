"""Helpers of the otter-zookeeper tests (a module of its own: every plugin's tests have a conftest.py, and
`from conftest import ...` would pick whichever was imported first)."""

import time


def wait_for(condition, timeout=60.0, message="condition", interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")

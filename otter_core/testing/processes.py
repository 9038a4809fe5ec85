"""Stopping a test server's process: a polite signal first, SIGKILL when it does not exit in time."""

from __future__ import annotations

import signal
import subprocess


def stop_process(process: subprocess.Popen | None, sig: int = signal.SIGTERM, timeout: float = 30.0) -> None:
    """Send ``sig`` and wait up to ``timeout`` seconds, then kill; nothing when already gone."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()

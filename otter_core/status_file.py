"""The status file of ``otter-run run --status-file F``: ``Runner.status()`` as JSON, rewritten every second.

The manager (and any script) reads it to see a running process's pipelines without talking to it. The
file is replaced atomically (write a temporary file, then rename), so a reader never sees a torn one.
``updated`` tells a live file from the last words of a process that died: a reader treats a file not
rewritten for several intervals as stale.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger("otter.status")
INTERVAL_SECONDS = 1.0


def write_status_file(path: str | os.PathLike, pipelines: list[dict], final: bool = False) -> None:
    """Replace ``path`` with ``{"pid", "updated", "final", "pipelines"}`` in one rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"pid": os.getpid(), "updated": time.time(), "final": final, "pipelines": pipelines}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(payload, default=str))
    os.replace(tmp, path)


def read_status_file(path: str | os.PathLike) -> dict[str, Any] | None:
    """The last status written to ``path``, or None when there is none (yet)."""
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        return None
    except ValueError:  # written by something else: not ours to trust
        log.warning("status file %s is not JSON: ignored", path)
        return None


class StatusFileWriter:
    """A thread that writes ``status()`` to ``path`` every ``interval`` seconds until ``stop()``."""

    def __init__(
        self, path: str | os.PathLike, status: Callable[[], list[dict]], interval: float = INTERVAL_SECONDS
    ) -> None:
        self.path = path
        self.status = status
        self.interval = interval
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="status-file", daemon=True)

    def start(self) -> StatusFileWriter:
        self._write()
        self._thread.start()
        return self

    def _write(self, final: bool = False) -> None:
        try:
            write_status_file(self.path, self.status(), final)
        except OSError as exc:  # a full disk must not stop the pipelines
            log.warning("cannot write the status file %s: %s", self.path, exc)

    def _run(self) -> None:
        while not self._stopping.wait(self.interval):
            self._write()

    def stop(self) -> None:
        """Stop the thread and write the final status (the pipelines' last state and figures)."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self._write(final=True)

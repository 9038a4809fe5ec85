"""One process per state directory: ``otter-run run`` (and ``load``) hold an exclusive ``flock`` on
``STATE_DIR/otter.lock`` for their whole life.

Why: two runners on one state directory read the same binlog under the same server_id and overwrite each
other's positions. ``flock`` is released by the kernel when the holder dies (``kill -9`` too), so a
stale lock file never blocks a restart; the file only tells who holds the lock.
"""

from __future__ import annotations

import fcntl
import os
import sys
from pathlib import Path

from otter_core.errors import OtterError

LOCK_NAME = "otter.lock"


class StateDirLocked(OtterError):
    """The state directory is in use by another process (``holder``: its PID and command)."""

    retryable = False

    def __init__(self, message: str, holder: str) -> None:
        super().__init__(message)
        self.holder = holder


class StateDirLock:
    """Exclusive lock of a state directory; ``acquire()`` raises ``StateDirLocked`` naming the holder."""

    def __init__(self, state_dir: str | os.PathLike) -> None:
        self.state_dir = Path(state_dir)
        self.path = self.state_dir / LOCK_NAME
        self._fd: int | None = None

    def acquire(self, purpose: str) -> StateDirLock:
        """Take the lock for this process (``purpose``, e.g. ``otter-run run``, is written for others)."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)  # not O_TRUNC: it names the holder
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = self.holder() or "another process"
            raise StateDirLocked(
                f"state directory {self.state_dir} is in use by {holder}: stop that process first, or "
                f"give this one another --state-dir (two runners on one state directory read the same "
                f"binlog under one server_id and overwrite each other's positions)",
                holder,
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {purpose}\n".encode())
        self._fd = fd
        return self

    def holder(self) -> str | None:
        """``pid N (command)`` of the process that wrote the lock file, or None when it is empty."""
        try:
            text = self.path.read_text().strip()
        except OSError:
            return None
        if not text:
            return None
        pid, _, purpose = text.partition(" ")
        return f"pid {pid} ({purpose})" if purpose else f"pid {pid}"

    def in_use(self) -> str | None:
        """The holder (as ``holder()``) while another process holds the lock, else None; creates nothing."""
        try:
            fd = os.open(self.path, os.O_RDWR)
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return self.holder() or "another process"
        finally:
            os.close(fd)  # also drops the lock if we just took it
        return None

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing releases the flock; the file stays (it is reused, never trusted)

    def __enter__(self) -> StateDirLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def lock_state_dir(state_dir: str | os.PathLike, purpose: str | None = None) -> StateDirLock:
    """Lock ``state_dir`` for this process; ``purpose`` defaults to the command line."""
    return StateDirLock(state_dir).acquire(purpose or " ".join(["otter-run", *sys.argv[1:2]]))

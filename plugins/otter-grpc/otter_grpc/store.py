"""What a sending pipe holds until the receiving node takes it: small batches in memory, big batches as
spool files, and the files each batch's rows refer to (the only files a peer may read).

Unclaimed entries (the receiver rolled back, or died) are dropped when the pipe closes, and otherwise after
``ttl`` seconds, with a warning.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import threading
import time
from collections.abc import Iterable

from otter_core.spi import FileAction, FileRef

log = logging.getLogger("otter.grpc")
DEFAULT_TTL_SECONDS = 3600.0


class PipeStore:
    def __init__(self, pipe_id: str, spool_dir: str, ttl: float = DEFAULT_TTL_SECONDS) -> None:
        self.pipe_id = pipe_id
        self.spool = os.path.join(spool_dir, "out", pipe_id)
        self.ttl = ttl
        self._small: dict[str, tuple[bytes, float]] = {}
        self._big: dict[str, tuple[str, float]] = {}
        self._files: dict[str, tuple[set[tuple[str, str]], float]] = {}
        self._lock = threading.Lock()
        self._swept = time.monotonic()

    def put_small(self, seq: str, data: bytes, files: Iterable[FileRef]) -> None:
        now = time.monotonic()
        with self._lock:
            self._small[seq] = (data, now)
            self._register(seq, files, now)
        self._sweep(now)

    def put_big(self, seq: str, data: bytes, files: Iterable[FileRef]) -> tuple[int, int, str]:
        """Spool ``data`` to a file; return its size, mtime and SHA-256 (the receiver checks all three)."""
        os.makedirs(self.spool, exist_ok=True)
        path = os.path.join(self.spool, f"{seq}.batch")
        with open(path, "wb") as handle:
            handle.write(data)
        st = os.stat(path)
        now = time.monotonic()
        with self._lock:
            self._big[seq] = (path, now)
            self._register(seq, files, now)
        self._sweep(now)
        return st.st_size, st.st_mtime_ns, hashlib.sha256(data).hexdigest()

    def _register(self, seq: str, files: Iterable[FileRef], now: float) -> None:
        allowed = {(f.source_root, f.path) for f in files if f.action is FileAction.COPY}
        if allowed:
            self._files[seq] = (allowed, now)

    def take_small(self, seq: str) -> bytes | None:
        with self._lock:
            entry = self._small.pop(seq, None)
        return entry[0] if entry else None

    def big_path(self, seq: str) -> str | None:
        with self._lock:
            entry = self._big.get(seq)
        return entry[0] if entry else None

    def file_path(self, seq: str, source_root: str, path: str) -> str | None:
        """The local path of a file registered with batch ``seq`` (None: not registered, so not served)."""
        with self._lock:
            entry = self._files.get(seq)
        if entry is None or (source_root, path) not in entry[0]:
            return None
        return os.path.join(source_root, path)

    def release(self, seq: str, files_too: bool = True) -> int:
        """Forget batch ``seq`` (and, unless ``files_too`` is false, stop serving its row files)."""
        with self._lock:
            small = self._small.pop(seq, None)
            big = self._big.pop(seq, None)
            files = self._files.pop(seq, None) if files_too else None
        if big:
            _unlink(big[0])
        return int(bool(small or big or files))

    def _sweep(self, now: float) -> None:
        if now - self._swept < min(60.0, self.ttl):
            return
        self._swept = now
        limit = now - self.ttl
        with self._lock:
            old = {
                seq
                for table in (self._small, self._big, self._files)
                for seq, entry in table.items()
                if entry[-1] < limit
            }
        for seq in old:
            log.warning(
                "pipe %s: batch %s was not claimed within %.0f s: dropped (the receiver rolled back "
                "and re-reads it from the acked position)",
                self.pipe_id,
                seq,
                self.ttl,
            )
            self.release(seq)

    def close(self) -> None:
        with self._lock:
            self._small.clear()
            self._big.clear()
            self._files.clear()
        shutil.rmtree(self.spool, ignore_errors=True)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass

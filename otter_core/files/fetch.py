"""Writing one file under the target root: chunked, optionally in parallel ranges, resumable, atomic.

The bytes go to a hidden ``.NAME.otter-part`` file beside the target, whose ``.json`` sidecar lists the
chunks already written (data is written before the sidecar names it, so a ``kill -9`` loses at most the
chunks in flight). A run that finds a sidecar for the same source size and mtime fetches only the missing
chunks. When all are there the checksum (if known) is verified, the source's mtime is set, the file is
fsynced and renamed over the target: readers see the old file or the new one, never a half-written one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

from otter_core.errors import PipeError
from otter_core.model import FileRef

log = logging.getLogger("otter.files")
CHUNK_BYTES = 1 << 20
SIDECAR_EVERY_SECONDS = 0.5

Reader = Callable[[FileRef, int, int], Iterator[bytes]]


def part_paths(target: str) -> tuple[str, str]:
    folder, name = os.path.split(target)
    part = os.path.join(folder, f".{name}.otter-part")
    return part, part + ".json"


class _Progress:
    """The chunks written so far, saved to the sidecar now and then (and on the way out)."""

    def __init__(self, sidecar: str, identity: dict, done: set[int]) -> None:
        self.sidecar = sidecar
        self.identity = identity
        self.done = done
        self.lock = threading.Lock()
        self.saved_at = time.monotonic()

    def mark(self, chunk: int) -> None:
        with self.lock:
            self.done.add(chunk)
            if time.monotonic() - self.saved_at >= SIDECAR_EVERY_SECONDS:
                self._save()

    def save(self) -> None:
        with self.lock:
            self._save()

    def _save(self) -> None:
        tmp = self.sidecar + ".tmp"
        with open(tmp, "w") as handle:
            json.dump({**self.identity, "done": sorted(self.done)}, handle)
        os.replace(tmp, self.sidecar)
        self.saved_at = time.monotonic()


def discard_parts(target: str) -> None:
    """Remove what a copy of ``target`` left behind: a ``kill -9`` between the rename and the sidecar's
    removal leaves a sidecar beside a complete target (nothing to resume)."""
    _discard(*part_paths(target))


def _resume_state(sidecar: str, identity: dict) -> set[int]:
    try:
        with open(sidecar) as handle:
            saved = json.load(handle)
    except (FileNotFoundError, ValueError):
        return set()
    if {k: saved.get(k) for k in identity} != identity:
        return set()
    return {int(c) for c in saved.get("done", [])}


def _runs(missing: list[int], streams: int) -> list[list[int]]:
    """Split the missing chunk numbers into at most ``streams`` contiguous runs of similar length."""
    runs: list[list[int]] = []
    for chunk in missing:
        if runs and runs[-1][-1] == chunk - 1:
            runs[-1].append(chunk)
        else:
            runs.append([chunk])
    while len(runs) < streams:
        longest = max(runs, key=len, default=[])
        if len(longest) < 2:
            break
        runs.remove(longest)
        half = len(longest) // 2
        runs += [longest[:half], longest[half:]]
    while len(runs) > streams:  # more gaps than streams: fetch several runs per stream, in order
        runs.sort(key=lambda r: r[0])
        shortest = min(range(len(runs) - 1), key=lambda i: len(runs[i]) + len(runs[i + 1]))
        runs[shortest : shortest + 2] = [runs[shortest] + runs[shortest + 1]]
    return runs


def fetch_file(
    ref: FileRef, read: Reader, target: str, streams: int = 1, chunk_bytes: int = CHUNK_BYTES
) -> int:
    """Make ``target`` a copy of ``ref``'s source file read through ``read``; return bytes transferred
    in this call (less than the size when resuming). ``FileChanged`` from ``read`` passes through."""
    os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
    part, sidecar = part_paths(target)
    identity = {"size": ref.size, "mtime_ns": ref.mtime_ns, "chunk": chunk_bytes, "checksum": ref.checksum}
    done = _resume_state(sidecar, identity) if os.path.exists(part) else set()
    fd = os.open(part, os.O_RDWR | os.O_CREAT, 0o644)
    transferred = 0
    try:
        if not done:
            os.ftruncate(fd, ref.size)
        chunks = (ref.size + chunk_bytes - 1) // chunk_bytes
        missing = [c for c in range(chunks) if c not in done]
        if done:
            log.info(
                "resuming %s: %d of %d chunks were already written",
                ref.describe(),
                chunks - len(missing),
                chunks,
            )
        progress = _Progress(sidecar, identity, done)
        counted = threading.Lock()

        def fetch_run(run: list[int]) -> None:
            nonlocal transferred
            for first, last in _spans(run):
                offset = first * chunk_bytes
                end = min((last + 1) * chunk_bytes, ref.size)
                position = offset
                for data in read(ref, offset, end - offset):
                    if position + len(data) > end:
                        raise PipeError(f"{ref.describe()}: the sender sent more bytes than asked for")
                    os.pwrite(fd, data, position)
                    before = position
                    position += len(data)
                    with counted:
                        transferred += len(data)
                    for chunk in range(before // chunk_bytes, position // chunk_bytes):
                        progress.mark(chunk)
                if position != end:
                    raise PipeError(
                        f"{ref.describe()}: got {position - offset} of {end - offset} bytes "
                        f"at offset {offset}"
                    )
                progress.mark(last)

        try:
            runs = _runs(missing, max(1, streams))
            if len(runs) <= 1:
                for run in runs:
                    fetch_run(run)
            else:
                with ThreadPoolExecutor(max_workers=len(runs), thread_name_prefix="fetch") as pool:
                    for future in [pool.submit(fetch_run, run) for run in runs]:
                        future.result()
        finally:
            progress.save()
        if ref.checksum is not None and _digest(fd) != ref.checksum:
            os.close(fd)
            fd = -1
            _discard(part, sidecar)
            raise PipeError(
                f"{ref.describe()}: checksum mismatch after transfer (the partial copy was "
                f"dropped; the batch is retried)"
            )
        os.fsync(fd)
    finally:
        if fd >= 0:
            os.close(fd)
    os.utime(part, ns=(ref.mtime_ns, ref.mtime_ns))
    os.replace(part, target)
    _discard(sidecar)
    return transferred


def _spans(run: list[int]) -> Iterator[tuple[int, int]]:
    """Contiguous (first, last) chunk spans of a sorted run."""
    first = prev = run[0]
    for chunk in run[1:]:
        if chunk != prev + 1:
            yield first, prev
            first = chunk
        prev = chunk
    yield first, prev


def _digest(fd: int) -> str:
    digest = hashlib.sha256()
    offset = 0
    while True:
        data = os.pread(fd, CHUNK_BYTES, offset)
        if not data:
            return digest.hexdigest()
        digest.update(data)
        offset += len(data)


def _discard(*paths: str) -> None:
    for path in paths:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass

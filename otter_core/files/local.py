"""Reading source files on the node that runs Load (memory pipe: one process, both roots at hand)."""

from __future__ import annotations

import os
from collections.abc import Iterator

from otter_core.errors import FileChanged
from otter_core.model import FileRef

READ_CHUNK = 1 << 20


def open_checked(ref: FileRef) -> tuple[int, os.stat_result]:
    """Open ``ref``'s source file and check it is still the file Extract saw; raise ``FileChanged``
    (with the current size and mtime, or None when gone) when it is not."""
    path = os.path.join(ref.source_root, ref.path)
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        raise FileChanged(f"source file {path!r} is gone") from None
    st = os.fstat(fd)
    if (st.st_size, st.st_mtime_ns) != (ref.size, ref.mtime_ns):
        os.close(fd)
        raise FileChanged(f"source file {path!r} changed since Extract", st.st_size, st.st_mtime_ns)
    return fd, st


def read_range(ref: FileRef, offset: int, length: int, chunk: int = READ_CHUNK) -> Iterator[bytes]:
    """The bytes ``[offset, offset + length)`` of ``ref``'s source file, ``chunk`` bytes at a time."""
    fd, _ = open_checked(ref)
    try:
        end = offset + length
        while offset < end:
            data = os.pread(fd, min(chunk, end - offset), offset)
            if not data:  # truncated in place while read: the current file is copied instead, not dropped
                now = os.fstat(fd)
                raise FileChanged(
                    f"source file {ref.describe()} is shorter than {end} bytes now",
                    now.st_size,
                    now.st_mtime_ns,
                )
            offset += len(data)
            yield data
    finally:
        os.close(fd)


class LocalFileSource:
    """The ``FileSource`` of the memory pipe: reads straight from ``ref.source_root``."""

    def read(self, ref: FileRef, offset: int, length: int) -> Iterator[bytes]:
        return read_range(ref, offset, length)

    def release(self) -> None:
        """Nothing is held for a local batch."""

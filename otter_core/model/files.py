"""Files that rows refer to (file sync): what Extract collects and Load writes under the target root."""

from __future__ import annotations

import enum

from attrs import frozen


class FileAction(str, enum.Enum):
    COPY = "copy"  # make the target copy equal to the source file
    DELETE = "delete"  # the row was deleted and the resolver asks for its files to go too


@frozen
class FileRef:
    """One file of one row: ``path`` is relative to both roots (``/`` separated, never ``..``).

    ``size`` and ``mtime_ns`` are the source file's as Extract saw it; ``checksum`` (hex SHA-256) is set when
    the pair asks for checksum change detection. The target copy gets the source's mtime, so a second run
    finds equal size and mtime and transfers nothing.
    """

    path: str
    source_root: str
    target_root: str
    size: int = 0
    mtime_ns: int = 0
    checksum: str | None = None
    action: FileAction = FileAction.COPY

    def __reduce__(self) -> tuple:
        return (
            FileRef,
            (
                self.path,
                self.source_root,
                self.target_root,
                self.size,
                self.mtime_ns,
                self.checksum,
                self.action,
            ),
        )

    def describe(self) -> str:
        return f"{self.path} ({self.source_root} -> {self.target_root})"

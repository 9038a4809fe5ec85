"""Acked positions on disk, written atomically so that ``kill -9`` at any instant leaves either the old
or the new position, never a torn file.

The first position a pipeline saves is its pinned start: ``start:`` resolved once to a concrete
position (``origin`` records the setting it came from), so every retry and restart resumes from a
position that was fixed before anything was read (docs/configuration.md, Positions)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from otter_core.model import Position


def safe_name(name: str) -> str:
    """``name`` (a channel or pipeline) as one path component of the state directory."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


_safe = safe_name


class PositionStore:
    """One JSON file per pipeline under ``state_dir/<channel>/<pipeline>.position.json``."""

    def __init__(self, state_dir: str | os.PathLike, channel: str, pipeline: str) -> None:
        self.path = Path(state_dir) / _safe(channel) / f"{_safe(pipeline)}.position.json"
        # as strings, built once: a position is saved after every acked batch
        self._paths = (str(self.path.with_suffix(".tmp")), str(self.path), str(self.path.parent))
        # where the saved position came from: a pinned ``start:`` ({"kind": "current"}, …) or
        # {"kind": "set", …} from ``otter-run position set``; kept on every later save
        self.origin: dict[str, Any] | None = None

    def load(self) -> Position | None:
        record = self.record()
        if record is None:
            return None
        self.origin = record.get("start")
        return Position.from_dict(record["position"])

    def record(self) -> dict[str, Any] | None:
        """The whole saved record (position, process_id, start), or None when nothing is saved."""
        try:
            return json.loads(self.path.read_text())
        except FileNotFoundError:
            return None

    def pin(self, position: Position, origin: Mapping[str, Any]) -> None:
        """Save ``position`` as the pipeline's start (process_id 0: any later ack replaces it)."""
        self.origin = dict(origin)
        self.save(position, 0)

    def save(self, position: Position, process_id: int) -> None:
        tmp, final, folder = self._paths
        record: dict[str, Any] = {"position": position.to_dict(), "process_id": process_id}
        if self.origin is not None:
            record["start"] = self.origin
        payload = json.dumps(record)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        except FileNotFoundError:  # the first save, or the folder was removed meanwhile
            os.makedirs(folder, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, payload.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, final)
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def reset(self) -> bool:
        """Remove the saved position (the next start resolves ``start:`` again); True if one existed."""
        self.origin = None
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        return True

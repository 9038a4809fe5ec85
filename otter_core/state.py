"""Acked positions on disk, written atomically so that ``kill -9`` at any instant leaves either the old
or the new position, never a torn file."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from otter_core.model import Position


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


class PositionStore:
    """One JSON file per pipeline under ``state_dir/<channel>/<pipeline>.position.json``."""

    def __init__(self, state_dir: str | os.PathLike, channel: str, pipeline: str) -> None:
        self.path = Path(state_dir) / _safe(channel) / f"{_safe(pipeline)}.position.json"
        # as strings, built once: a position is saved after every acked batch
        self._paths = (str(self.path.with_suffix(".tmp")), str(self.path), str(self.path.parent))

    def load(self) -> Position | None:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return None
        return Position.from_dict(data["position"])

    def save(self, position: Position, process_id: int) -> None:
        tmp, final, folder = self._paths
        payload = json.dumps({"position": position.to_dict(), "process_id": process_id})
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

    def reset(self) -> None:
        self.path.unlink(missing_ok=True)

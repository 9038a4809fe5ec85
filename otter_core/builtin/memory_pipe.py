"""The memory pipe: Select/Extract and Transform/Load share the process, so a batch is passed by reference."""

from __future__ import annotations

import itertools
import threading
from typing import Any

from otter_core.files.local import LocalFileSource
from otter_core.hookspecs import hookimpl
from otter_core.model import NodeContext, Pipeline


class MemoryPipe:
    def __init__(self) -> None:
        self._items: dict[str, Any] = {}
        self._keys = itertools.count(1)
        self._lock = threading.Lock()

    def put(self, batch: Any) -> str:
        with self._lock:
            key = f"mem-{next(self._keys)}"
            self._items[key] = batch
        return key

    def get(self, key: str) -> Any:
        with self._lock:
            return self._items.pop(key)

    def discard(self, key: str) -> None:
        """A rollback voided the batch under ``key``."""
        with self._lock:
            self._items.pop(key, None)

    def files(self, key: str) -> LocalFileSource:
        """Files are read from the source root itself (same node)."""
        return LocalFileSource()

    def close(self) -> None:
        with self._lock:
            self._items.clear()


@hookimpl
def otter_pipe(name: str, pipeline: Pipeline, node: NodeContext | None) -> MemoryPipe | None:
    return MemoryPipe() if name == "memory" else None

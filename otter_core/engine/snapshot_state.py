"""What an initial load (snapshot) has done, kept beside the acked position so a restart resumes it.

Two files per pipeline under ``STATE_DIR/<channel>/``:

* ``<pipeline>.snapshot-request.json`` — written by whoever asks for a load (``otter-run load``, the YAML's
  ``snapshot:`` on a first start, the manager through ``request_snapshot``); a new request id replaces the
  load in progress.
* ``<pipeline>.snapshot.json`` — written only by the running pipeline: the table plan, and each chunk as
  it is emitted into the change stream, with the binlog position it was emitted at. A chunk counts as
  done once the pipeline's acked position reached that position: only then were its rows loaded. On a
  restart, chunks emitted after the acked position are forgotten and read again (re-reading a chunk is
  always safe: the watermark method makes any chunk correct whenever it is read), so the file needs no
  fsync and a crash costs at most the chunks in flight.
"""

from __future__ import annotations

import datetime
import decimal
import functools
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from otter_core.model import Position, SnapshotSettings
from otter_core.state import _safe

DEFAULT_CHUNK_ROWS = SnapshotSettings().chunk_rows  # one default for the YAML's snapshot and otter-run load


def _locked(method):
    """Run a SnapshotStore method under its lock (the select thread writes, status readers read)."""

    @functools.wraps(method)
    def locked(self, *args, **kwargs):
        with self.lock:
            return method(self, *args, **kwargs)

    return locked


def position_order(position: Position | None) -> tuple:
    """Sort key of a binlog position (a longer file name is a later file)."""
    if position is None or position.file is None:
        return (-1, "", -1)
    return (len(position.file), position.file, int(position.pos or 0))


# -- keys in JSON ----------------------------------------------------------------------------------


def encode_value(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, decimal.Decimal):
        return {"$dec": str(value)}
    if isinstance(value, datetime.datetime):
        return {"$dt": value.isoformat()}
    if isinstance(value, datetime.date):
        return {"$d": value.isoformat()}
    if isinstance(value, datetime.timedelta):
        return {"$td": [value.days, value.seconds, value.microseconds]}
    if isinstance(value, (bytes, bytearray)):
        return {"$hex": bytes(value).hex()}
    if isinstance(value, (set, frozenset)):
        return {"$set": sorted(value)}
    raise TypeError(f"cannot keep a key value of type {type(value).__name__} in the snapshot state")


def decode_value(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    ((tag, raw),) = value.items()
    decoders: dict[str, Callable[[Any], Any]] = {
        "$dec": decimal.Decimal,
        "$dt": datetime.datetime.fromisoformat,
        "$d": datetime.date.fromisoformat,
        "$td": lambda v: datetime.timedelta(days=v[0], seconds=v[1], microseconds=v[2]),
        "$hex": bytes.fromhex,
        "$set": set,
    }
    return decoders[tag](raw)


def encode_key(key: Sequence[Any] | None) -> list | None:
    return None if key is None else [encode_value(v) for v in key]


def decode_key(key: list | None) -> tuple | None:
    return None if key is None else tuple(decode_value(v) for v in key)


# -- files -----------------------------------------------------------------------------------------


def _paths(state_dir: str | os.PathLike, channel: str, pipeline: str) -> tuple[Path, Path]:
    base = Path(state_dir) / _safe(channel)
    return base / f"{_safe(pipeline)}.snapshot-request.json", base / f"{_safe(pipeline)}.snapshot.json"


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None


def request_snapshot(
    state_dir: str | os.PathLike,
    channel: str,
    pipeline: str,
    tables: Sequence[str] | None = None,
    chunk_rows: int | None = None,
) -> str:
    """Ask for a load of ``tables`` (``schema.table`` names or patterns; None: every table the pipeline's
    pairs take) of a pipeline; a running otter-run with this state directory starts it within a second,
    a stopped one when it starts. Replaces any load in progress. Returns the request id."""
    request_id = uuid.uuid4().hex
    path, _ = _paths(state_dir, channel, pipeline)
    _write_json(
        path,
        {
            "id": request_id,
            "tables": list(tables) if tables else None,
            "chunk_rows": int(chunk_rows or DEFAULT_CHUNK_ROWS),
            "requested_at": time.time(),
        },
    )
    return request_id


def read_request(state_dir: str | os.PathLike, channel: str, pipeline: str) -> dict | None:
    return _read_json(_paths(state_dir, channel, pipeline)[0])


def read_state(state_dir: str | os.PathLike, channel: str, pipeline: str) -> dict | None:
    """The state file of a pipeline's load as the running pipeline last wrote it (None: never loaded)."""
    return _read_json(_paths(state_dir, channel, pipeline)[1])


class SnapshotStore:
    """The pipeline-side view of the two files: adopt a request, record chunks, confirm them by ack."""

    def __init__(self, state_dir: str | os.PathLike, channel: str, pipeline: str) -> None:
        self.channel, self.pipeline = channel, pipeline
        self.request_path, self.path = _paths(state_dir, channel, pipeline)
        self.state: dict | None = _read_json(self.path)
        self._request_mtime = 0.0
        self._last_table: str | None = None  # the last chunk's (``next_chunk_start`` goes on after it)
        self.lock = threading.RLock()  # the select thread writes, status readers (CLI, manager) read

    def request_changed(self) -> dict | None:
        """A request whose id differs from the state's (checked cheaply by file time), else None."""
        try:
            mtime = self.request_path.stat().st_mtime
        except FileNotFoundError:
            return None
        if mtime == self._request_mtime:
            return None
        self._request_mtime = mtime
        return self._unadopted(_read_json(self.request_path))

    def request_waiting(self) -> bool:
        """A request not adopted yet is there (read without consuming it: ``request_changed`` still sees it)."""
        return self._unadopted(_read_json(self.request_path)) is not None

    def _unadopted(self, request: dict | None) -> dict | None:
        """``request`` unless it is missing or the load already adopted (same id)."""
        if request is None or (self.state is not None and self.state.get("id") == request.get("id")):
            return None
        return request

    @_locked
    def adopt(self, request: dict, plan: list[str], estimates: dict[str, int]) -> None:
        """Start the load ``request`` over ``plan`` (the resolved table names, in load order)."""
        self.state = {
            "id": request["id"],
            "chunk_rows": int(request.get("chunk_rows") or DEFAULT_CHUNK_ROWS),
            "state": "running",
            "error": "",
            "plan": plan,
            "estimates": estimates,
            "confirmed": {},
            "pending": [],
            "started_at": time.time(),
            "finished_at": None,
        }
        self.save()

    def save(self) -> None:
        if self.state is not None:
            _write_json(self.path, self.state)

    @property
    def chunk_rows(self) -> int:
        """Rows per chunk of the adopted load."""
        if self.state is None:
            raise RuntimeError(f"{self.channel}/{self.pipeline}: no initial load adopted")
        return int(self.state["chunk_rows"])

    @property
    def active(self) -> bool:
        return self.state is not None and self.state.get("state") == "running"

    @_locked
    def record_chunk(
        self, table: str, upper: tuple | None, rows: int, last: bool, position: Position
    ) -> None:
        """A chunk of ``table`` ending at key ``upper`` was emitted into the stream at ``position``."""
        assert self.state is not None
        self._last_table = table
        self.state["pending"].append(
            {
                "table": table,
                "upper": encode_key(upper),
                "rows": rows,
                "last": last,
                "position": position.to_dict(),
            }
        )
        self.state["chunks"] = self.state.get("chunks", 0) + 1
        self.save()

    @_locked
    def pending_chunks(self) -> int:
        """Chunks emitted and not yet confirmed (acked)."""
        return len(self.state["pending"]) if self.state is not None else 0

    @_locked
    def confirm(self, acked: Position | None, now: float | None = None) -> bool:
        """Fold the chunks emitted at or before ``acked`` into the done part; True when that changed
        something. The load is done when every planned table's last chunk is confirmed."""
        if self.state is None or not self.state["pending"] or acked is None or acked.file is None:
            return False
        limit = position_order(acked)
        kept, changed = [], False
        for chunk in self.state["pending"]:
            if position_order(Position.from_dict(chunk["position"])) <= limit:
                done = self.state["confirmed"].setdefault(
                    chunk["table"], {"upper": None, "rows": 0, "done": False}
                )
                done["upper"], done["rows"], done["done"] = (
                    chunk["upper"],
                    done["rows"] + chunk["rows"],
                    chunk["last"],
                )
                changed = True
            else:
                kept.append(chunk)
        self.state["pending"] = kept
        if changed and all(self.state["confirmed"].get(t, {}).get("done") for t in self.state["plan"]):
            self.state["state"], self.state["finished_at"] = "done", now or time.time()
        if changed:
            self.save()
        return changed

    @_locked
    def resume(self, acked: Position | None) -> None:
        """After a (re)start from ``acked``: keep what was loaded, forget chunks emitted after it."""
        if self.state is None:
            return
        self.confirm(acked)
        if self.state["pending"]:
            self.state["pending"] = []
            self.save()
        if self.active:
            start = self.next_chunk_start()
            if start is not None and (start[1] is not None or self.state["confirmed"]):
                self.state.setdefault("resumes", []).append(
                    {"at": time.time(), "table": start[0], "after": encode_key(start[1])}
                )
                self.save()
        if self.active and all(self.state["confirmed"].get(t, {}).get("done") for t in self.state["plan"]):
            self.state["state"], self.state["finished_at"] = "done", time.time()
            self.save()

    @_locked
    def fail(self, error: str) -> None:
        if self.state is not None:
            self.state["state"], self.state["error"] = "failed", error
            self.save()

    @_locked
    def open_tables(self, width: int = 1) -> list[tuple[str, tuple | None]]:
        """(table, key after which to read) of the first ``width`` tables of the plan not read to their end,
        from the chunks emitted so far (acked or not), in plan order."""
        assert self.state is not None
        latest: dict[str, dict] = {t: dict(v) for t, v in self.state["confirmed"].items()}
        for chunk in self.state["pending"]:
            latest[chunk["table"]] = {"upper": chunk["upper"], "done": chunk["last"]}
        found: list[tuple[str, tuple | None]] = []
        for table in self.state["plan"]:
            entry = latest.get(table)
            if entry is None:
                found.append((table, None))
            elif not entry["done"]:
                found.append((table, decode_key(entry["upper"])))
            if len(found) >= width:
                break
        return found

    @_locked
    def next_chunk_start(self, width: int = 1) -> tuple[str, tuple | None] | None:
        """(table, key after which to read) of the next chunk to read: of the first ``width`` tables not read
        to their end, the one after the last chunk's table (round robin), so that the chunks of ``width``
        tables alternate in the stream and a batch's chunks load into several tables at once. Each
        table's chunks stay in key order, and its resume point is its own last acked chunk."""
        tables = self.open_tables(width)
        if not tables:
            return None
        names = [name for name, _ in tables]
        last, plan = self._last_table, self.state["plan"] if self.state else []
        if last in names:
            return tables[(names.index(last) + 1) % len(tables)]
        if last in plan:  # read to its end: the next open table after it in the plan
            after = plan.index(last)
            return next((t for t in tables if plan.index(t[0]) > after), tables[0])
        return tables[0]

    @_locked
    def rows_done(self) -> tuple[int, int]:
        """(rows emitted, chunks emitted) so far, confirmed or not."""
        if self.state is None:
            return 0, 0
        rows = sum(v["rows"] for v in self.state["confirmed"].values()) + sum(
            c["rows"] for c in self.state["pending"]
        )
        chunks = self.state.get("chunks", 0)
        return rows, chunks

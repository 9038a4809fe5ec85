"""Where a snapshot chunk is read: in the select thread (``InlineChunks``) or in a child process
(``ProcessChunks``, with ``select_process: true``, the default).

Reading a chunk is mostly parsing rows in the database client library, in pure Python; in the runner's
process it competes for the GIL with Extract, Transform and Load of the chunk before. The child process
owns its own TableReader: for each chunk it commits the low watermark, reads the rows, commits the high
watermark and sends the rows back (``send_answer``: pickled, a bulk chunk's packets out of band). The
parent keeps the window logic and only waits for the rows when the high watermark comes back through the
binlog before them.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import sys
from typing import Any

from otter_core.contracts import TableReader
from otter_core.errors import OtterError, SourceError
from otter_core.model import DataMediaSource, Pipeline

_context = multiprocessing.get_context("spawn")
READ_TIMEOUT_SECONDS = 600.0


def read_chunk(reader: TableReader, request: tuple) -> Any:
    """Low watermark, the chunk's rows, high watermark: the three steps of one chunk, in this order.
    A chunk for the bulk path (``snapshot_bulk``) is read by the reader's ``read_range_packed`` when it
    has one: the rows packed as the plugin's loader takes them, or a plain list (the row path)."""
    _tag, signal_id, low, high, schema, table, columns, key, lower, limit, bulk = request
    reader.write_watermark(signal_id, low)
    packed_read = getattr(reader, "read_range_packed", None) if bulk else None
    if packed_read is not None:
        rows = packed_read(schema, table, columns, key, lower, limit)
    else:
        rows = reader.read_range(schema, table, columns, key, lower, None, limit)
    reader.write_watermark(signal_id, high)
    return rows


class InlineChunks:
    """Reads each chunk at once, in the calling thread."""

    def __init__(self, reader: TableReader) -> None:
        self.reader = reader
        self._rows: tuple[str, list[tuple]] | None = None

    def start(self, request: tuple) -> None:
        self._rows = (request[0], read_chunk(self.reader, request))

    def check(self, tag: str) -> None:
        """Nothing to do: a failed read raised in ``start``."""

    def rows(self, tag: str) -> list[tuple]:
        assert self._rows is not None and self._rows[0] == tag
        return self._rows[1]

    def close(self) -> None:
        self.reader.close()


def send_answer(conn: Any, message: Any) -> None:
    """``message`` pickled, and the buffers it lets go out of band (a bulk chunk's packets, pickle
    protocol 5) each sent as they are after it: not copied into the pickle nor out of it on arrival."""
    buffers: list[pickle.PickleBuffer] = []
    data = pickle.dumps(message, protocol=5, buffer_callback=buffers.append)
    conn.send_bytes(len(buffers).to_bytes(4, "little") + data)
    for buffer in buffers:
        conn.send_bytes(buffer)


def receive_answer(conn: Any) -> Any:
    """What ``send_answer`` sent."""
    data = conn.recv_bytes()
    buffers = [conn.recv_bytes() for _ in range(int.from_bytes(data[:4], "little"))]
    return pickle.loads(memoryview(data)[4:], buffers=buffers)


def _child_main(
    pipeline: Pipeline, source: DataMediaSource, conn: Any, entry_points: dict[tuple[str, str], str]
) -> None:
    from otter_core.builtin import memory_arbitrator, memory_pipe
    from otter_core.plugins import PipelinePlugins, use_entry_points

    use_entry_points(entry_points)  # the runner found the plugin: no entry-point scan (nor stevedore) here
    reader = None
    parent = os.getppid()
    try:
        reader = PipelinePlugins(pipeline, builtins=[memory_pipe, memory_arbitrator]).table_reader(source)
        while True:
            if not conn.poll(1.0):
                if os.getppid() != parent:
                    return  # the runner died (kill -9): do not outlive it
                continue
            kind, payload = pickle.loads(conn.recv_bytes())
            if kind == "stop":
                return
            try:
                answer: Any
                if kind == "chunk":
                    answer = (payload[0], read_chunk(reader, payload))
                elif kind == "modules":
                    answer = sorted(sys.modules)
                else:
                    name, args = payload
                    answer = getattr(reader, name)(*args)
                send_answer(conn, ("ok", answer))
            except Exception as exc:  # the parent raises it with its message (and retries when it may)
                retryable = exc.retryable if isinstance(exc, OtterError) else True
                send_answer(conn, ("error", (type(exc).__name__, str(exc), retryable)))
    except (EOFError, BrokenPipeError, KeyboardInterrupt):
        pass
    finally:
        if reader is not None:
            reader.close()


class ProcessChunks:
    """The source's TableReader in a child process: metadata calls wait for the answer, a chunk is started
    and its rows fetched later (``rows``)."""

    def __init__(self, pipeline: Pipeline, source: DataMediaSource) -> None:
        from otter_core.plugins import resolved_entry_points

        self.pipeline = pipeline
        parent, child = _context.Pipe(duplex=True)
        self._conn = parent
        process = _context.Process(
            target=_child_main,
            args=(pipeline, source, child, resolved_entry_points()),
            name=f"snapshot-{pipeline.name}",
            daemon=True,
        )
        process.start()
        self._process: multiprocessing.process.BaseProcess | None = process  # None once closed
        child.close()
        self._pending: str | None = None  # tag of the chunk asked for, answer not received yet
        self._ready: tuple | None = None  # (tag, rows) received, not taken yet
        self.reader = self  # metadata calls (tables, key_columns, ...) go through __getattr__

    def _send(self, kind: str, payload: Any) -> None:
        self._conn.send_bytes(pickle.dumps((kind, payload), protocol=pickle.HIGHEST_PROTOCOL))

    def _receive(self) -> Any:
        if not self._conn.poll(READ_TIMEOUT_SECONDS):
            raise SourceError(
                f"the snapshot reader of pipeline {self.pipeline.name!r} did not answer in "
                f"{READ_TIMEOUT_SECONDS:.0f}s"
            )
        try:
            status, answer = receive_answer(self._conn)
        except (EOFError, OSError):
            exit_code = self._process.exitcode if self._process is not None else None
            raise SourceError(
                f"the snapshot reader process of pipeline {self.pipeline.name!r} ended unexpectedly "
                f"(exit code {exit_code})"
            ) from None
        if status == "error":
            name, message, retryable = answer
            raise SourceError(
                message if name in ("SourceError", "ConfigError", "DataError") else f"{name}: {message}",
                retryable=retryable,
            )
        return answer

    def _drain(self) -> None:
        """Forget a chunk that was started and then abandoned (a DDL in its window, a new request)."""
        self._ready = None
        if self._pending is not None:
            self._pending = None
            try:
                self._receive()
            except OtterError:
                pass  # the abandoned chunk's error no longer matters

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)

        def call(*args: Any) -> Any:
            self._drain()
            self._send("call", (name, args))
            return self._receive()

        return call

    def imported_modules(self) -> list[str]:
        """The names of the modules the reader process has imported: its start-up cost (diagnostics)."""
        self._drain()
        self._send("modules", None)
        return self._receive()

    def start(self, request: tuple) -> None:
        self._drain()
        self._send("chunk", request)
        self._pending = request[0]

    def check(self, tag: str) -> None:
        """Take the chunk's answer if it arrived: a failed read raises now, not when the high watermark
        comes (it never would: the reader may have failed before writing it)."""
        if self._pending == tag and self._conn.poll(0):
            self._pending = None
            self._ready = self._receive()

    def rows(self, tag: str) -> list[tuple]:
        if self._pending == tag:
            self._pending = None
            self._ready = self._receive()
        ready, self._ready = self._ready, None
        assert ready is not None and ready[0] == tag
        return ready[1]

    def close(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        try:
            self._send("stop", None)
        except OSError:
            pass
        process.join(timeout=5)
        if process.is_alive():
            process.kill()
            process.join()
        self._conn.close()

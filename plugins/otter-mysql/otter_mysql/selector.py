"""MySQL/MariaDB binlog selector: whole transactions of the tables a pipeline's pairs match.

A daemon reader thread reads the binlog stream (otter's own reader, ``binlog_reader``, or mysql-replication
with ``parameters.binlog_reader: library``), decodes the rows of matched tables with compiled decoders
(``rowcodec``; or leaves them raw for the runner) and puts whole ``Transaction``s into a queue bounded by
count and bytes; ``poll`` takes them out. A lost connection is re-opened from the last transaction
boundary; faults the user must fix surface from ``start``/``poll`` as ``SourceError``.
"""

from __future__ import annotations

import logging
import threading
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pymysql

from otter_core.spi import (
    ConfigError,
    DataMediaSource,
    OtterError,
    Pipeline,
    Position,
    SourceError,
    Transaction,
    safe_name,
)
from otter_mysql import checks, handover, mysql_connect, retl, signals
from otter_mysql.binlog_reader import NativeReader
from otter_mysql.history_start import start_history
from otter_mysql.rowcodec import RowCodec
from otter_mysql.schema import SchemaCache
from otter_mysql.schema_history import SchemaHistory
from otter_mysql.server_errors import error_kwargs
from otter_mysql.statement_events import StatementEvents
from otter_mysql.tx_assembly import TransactionAssembly
from otter_mysql.txqueue import TxQueue

if TYPE_CHECKING:  # imported when used: it loads mysql-replication's whole package (~20 ms per start)
    from otter_mysql.library_reader import LibraryReader

log = logging.getLogger(__name__)
READERS = ("native", "library")
_RETRIES = 5
_SAME_SERVER_ID = 4052  # ER_SLAVE_SAME_ID: another replica registered with our server_id


class _Reconnect(Exception):
    """mysql-replication tried to reconnect by itself; we reopen from a transaction boundary instead."""


class _LibraryNoise(logging.Filter):
    """Drops mysql-replication's advice to set binlog_row_metadata=FULL (not needed here) and its
    reconnect notice (the selector reconnects itself, from a transaction boundary)."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        return "BINLOG_ROW_METADATA" not in text and "Re-request the connection" not in text


logging.getLogger("pymysqlreplication").addFilter(_LibraryNoise())


def derive_server_id(pipeline_name: str, channel: str = "") -> int:
    """A stable replica server_id for a pipeline that does not set one. The channel is part of it: two
    channels may both have a pipeline called ``src-to-dst`` on one source, and two replicas with one
    server_id make the server drop one connection whenever the other registers (error 4052)."""
    name = f"{channel}/{pipeline_name}" if channel else pipeline_name
    return 1000 + zlib.crc32(name.encode()) % 100000


class MySQLSelector(handover.DeferredDecoding, StatementEvents, TransactionAssembly):
    """``otter_core.contracts.Selector`` over a MySQL/MariaDB binlog."""

    heartbeat_s = 5.0  # the source sends a heartbeat on an idle stream this often
    read_timeout = 60  # s without a packet (heartbeats included) before the connection counts as lost

    def __init__(self, source: DataMediaSource, pipeline: Pipeline) -> None:
        self.source = source
        self.pipeline = pipeline
        params = pipeline.parameters
        self.server_id = params.server_id or derive_server_id(pipeline.name, pipeline.channel)
        self.reader = str(params.binlog_reader or "native").lower()
        if self.reader not in READERS:
            raise ConfigError(
                f"pipeline {pipeline.name}: parameters.binlog_reader is {params.binlog_reader!r}; use "
                f"native (otter's own reader, the default) or library (mysql-replication)"
            )
        self.label = f"source {source.name} ({source.host}:{source.port})"
        self.schema = SchemaCache(self._connect, self.label)
        self._queue = TxQueue(
            max(1024, 2 * params.batch_size),  # memory guard: an eighth of the limit
            max(1, min(2 * params.batch_bytes, params.memory_limit_bytes // 8)),
        )
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._stream: NativeReader | LibraryReader | None = None
        self._connects = 0
        self._failures = 0  # consecutive lost connections without a transaction read in between
        self._start_args: dict[str, Any] = {}
        self._resume: Position | None = None
        self._last_gtid: str | None = None  # of the last transaction emitted (for position-only moves)
        self._matched: dict[tuple[str, str], bool] = {}
        self.channel = pipeline.channel or pipeline.name
        self.loopback = retl.LoopbackTracker(self.channel, pipeline.home)
        self._before = pipeline.detects_conflicts  # keep before images (conflict detection)
        self.history = SchemaHistory()
        self._history_saved = 0.0
        self._schemas: set[str] = set()
        self._init_deferred()
        self._reset_tx()

    def use_state_dir(self, state_dir: str, channel: str | None = None) -> None:
        """Keep the schema history in the state directory (``<channel>/<pipeline>.schema-history.json``),
        so a restart behind a DDL decodes with the layout before it. Called before ``start``."""
        name = f"{safe_name(self.pipeline.name)}.schema-history.json"
        self.history.path = Path(state_dir) / safe_name(channel or self.channel) / name

    # -- connections -------------------------------------------------------------------------------
    def _settings(self) -> dict[str, Any]:
        s = self.source
        tls = {k: v for k, v in (s.options or {}).items() if k.startswith("ssl")}  # e.g. ssl_ca, ssl_disabled
        return {
            "host": s.host,
            "port": int(s.port),
            "user": s.user,
            "password": s.password,
            "connect_timeout": 10,
            "read_timeout": self.read_timeout,
            **tls,
        }

    def _connect(self, **extra: Any) -> pymysql.connections.Connection:
        """A PyMySQL connection to the source; failures become SourceError (never showing the password)."""
        settings = {**self._settings(), "autocommit": True, "charset": "utf8mb4", **extra}
        try:
            return mysql_connect.connect(**settings)
        except pymysql.err.MySQLError as exc:
            raise self._connection_error(exc) from None

    def _connection_error(self, exc: BaseException) -> SourceError:
        detail = exc.args[1] if len(exc.args) > 1 else str(exc)
        return SourceError(
            f"cannot connect to {self.label} as user {self.source.user!r}: {detail}; check the "
            f"host, port, user and password of the source",
            **error_kwargs(exc),
        )

    def _stream_connect(self, **settings: Any) -> pymysql.connections.Connection:
        """Connection factory handed to mysql-replication: the stream and control connections only."""
        if self._stop.is_set():
            raise _Reconnect("selector closed")
        self._connects += 1
        if self._connects > 2:
            raise _Reconnect("connection lost")
        return mysql_connect.connect(**settings)

    # -- start: checks -----------------------------------------------------------------------------
    def _check_tables(self) -> None:
        matched = [(s, t) for s, t in self.schema.tables() if self._is_matched(s, t)]
        self._schemas = {s for s, _ in matched} | {
            p.source.schema for p in self.pipeline.pairs if "*" not in p.source.schema
        }
        self.schema.preload({s for s, _ in matched})
        for pair in self.pipeline.pairs:
            media = pair.source
            if media.is_pattern and not any(media.matches(s, t) for s, t in matched):
                log.warning(  # a typo in a pattern would otherwise sync nothing, for ever, in silence
                    "%s: the pair source %s of pipeline %s matches no table there now (a typo?); tables "
                    "created later that match it will be synced",
                    self.label,
                    media,
                    self.pipeline.name,
                )
            if not media.is_pattern and self.schema.find(media.schema, media.name) is None:
                raise SourceError(
                    f"table {media} named by pipeline {self.pipeline.name} does not exist on "
                    f"{self.label}; create it or fix the pair's source",
                    retryable=False,
                )
        for schema, table in matched:
            try:
                self.schema.get(schema, table)
            except SourceError as exc:
                if self.schema.find(schema, table) is None:
                    raise
                raise SourceError(  # keyless: both ways out, and what happens to the rows logged before a key
                    f"{exc}, or leave it out of pipeline {self.pipeline.name} (`exclude: [{schema}.{table}]`, "
                    f"or pairs that do not take it). Rows logged before a key is added cannot be applied by "
                    f"key (the new key does not identify them): after the ALTER, start the pipeline past it "
                    f"(`otter-run position set PIPELINE.yaml --current`) and resync the table",
                    retryable=False,
                ) from None
        conn = self._connect()
        try:
            checks.check_fk_cascades(conn, set(matched), self.pipeline, self.label)
        finally:
            conn.close()

    def start(self, position: Position | None) -> None:
        """Check the source and start reading after ``position`` (or from the pipeline's start)."""
        if self._thread is not None:
            raise RuntimeError("selector already started")
        try:
            conn = self._connect()
            try:
                checks.check_server(conn, self.label)
                point = checks.start_point(conn, position, self.pipeline, self.label)
                if "log_file" in point:
                    checks.check_file(conn, point["log_file"], self.label)
                if self.pipeline.marks_loopback:  # DDL echoes pending across a restart
                    self.loopback.preload(conn, position.gtid if position else None)
            finally:
                conn.close()
            self._check_tables()
            self._start_args = point
            conn = self._connect()
            try:
                start_history(
                    self.history,
                    conn,
                    self._settings(),
                    self.server_id,
                    point,
                    self._schemas,
                    self._is_matched,
                    self.reader,
                )
            except pymysql.err.MySQLError as exc:
                if exc.args and exc.args[0] == 1236:
                    raise self._dump_error(exc) from None
                raise self._connection_error(exc) from None
            finally:
                conn.close()
        except BaseException:
            self.close()
            raise
        self._start_args = point
        self._thread = threading.Thread(
            target=self._run, name=f"otter-select-{self.pipeline.name}", daemon=True
        )
        self._thread.start()
        self._ready.wait(30)
        if self._queue.error is not None:
            self.close()
            raise self._queue.error

    # -- the consumer side -------------------------------------------------------------------------
    def poll(self, timeout: float) -> Transaction | None:
        """The next whole transaction, or None after ``timeout`` seconds without one."""
        return self._queue.get(timeout)

    def poll_all(self, timeout: float, max_bytes: int) -> list[Transaction]:
        """The whole transactions ready now, up to ``max_bytes`` of them
        (``otter_core.contracts.BatchPolling``), or [] after ``timeout`` seconds without one."""
        return self._queue.get_all(timeout, max_bytes)

    def interrupt(self) -> None:
        """End a ``poll`` waiting in another thread now (it returns None): a stopping pipeline does not
        wait out the select thread's idle wait."""
        self._queue.interrupt()

    def close(self) -> None:
        """Stop the reader (closing its socket) and release connections; safe to call twice."""
        self._stop.set()
        self._queue.close()
        stream = self._stream
        if stream is not None:
            stream.shutdown()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(5)
        self.schema.close()

    # -- the reader thread -------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    self._read_stream()
                except (_Reconnect, pymysql.err.MySQLError, ConnectionError, OSError) as exc:
                    if self._stop.is_set():
                        return
                    code = exc.args[0] if isinstance(exc, pymysql.err.MySQLError) and exc.args else 0
                    if code == 1236:
                        raise self._dump_error(exc) from None
                    if code in (1044, 1142, 1227):
                        raise SourceError(
                            f"{self.label}: user {self.source.user!r} may not read the binlog ({exc.args[-1]}); "
                            f"GRANT REPLICATION SLAVE, REPLICATION CLIENT, SELECT to it"
                        ) from None
                    if code == _SAME_SERVER_ID:  # retried (the other one may go), visibly, never silently
                        raise SourceError(
                            f"{self.label}: another replica registered with this pipeline's server_id "
                            f"{self.server_id} and the server dropped one of the two binlog connections (4052): "
                            f"another otter-run with this pipeline (another state directory), or a replica of "
                            f"the source; give each pipeline reading the source a unique `parameters.server_id`"
                        ) from None
                    if code == 1045 or not self._ready.is_set():
                        raise self._connection_error(exc) from None
                    self._failures += 1
                    if self._failures > _RETRIES:
                        raise SourceError(
                            f"{self.label}: lost the binlog connection {_RETRIES} times in a "
                            f"row ({exc}); check that the server is up and reachable",
                            transient=True,
                        ) from None
                    log.warning(
                        "%s: binlog connection lost (%s); reconnecting at %s",
                        self.label,
                        exc,
                        self._resume or self._start_args,
                    )
                    self._stop.wait(min(0.2 * 2**self._failures, 5))
        except BaseException as exc:  # handed to poll()
            if not self._stop.is_set():
                if not isinstance(exc, OtterError):
                    exc = SourceError(f"{self.label}: reading the binlog failed: {exc!r}")
                self._queue.fail(exc)
        finally:
            self._ready.set()
            if self._thread is not None:
                self._save_history()

    def _dump_error(self, exc: BaseException) -> SourceError:
        where = self._resume or self._start_args
        return SourceError(
            f"{self.label}: the server cannot send the binlog from {where}: {exc.args[-1]}. "
            f"The binlog was probably purged; set the pipeline's position with `otter-run position set "
            f"PIPELINE.yaml --current` (or --file/--pos, --gtid, --time) "
            f"or restore the binlog files, then resync the tables",
            retryable=False,
        )

    def _open_stream(self) -> NativeReader | LibraryReader:
        if self._resume is not None:
            point = {"log_file": self._resume.file, "log_pos": self._resume.pos}
        else:
            point = self._start_args
        self._connects = 0
        if self.reader == "library":
            from otter_mysql.library_reader import LibraryReader

            return LibraryReader(
                self._settings(), self.server_id, point, self.heartbeat_s, self._stream_connect
            )
        conn = self._stream_connect(**self._settings())
        try:
            return NativeReader(conn, self.server_id, point, self.heartbeat_s, self.label)
        except BaseException:
            conn.close()
            raise

    def _read_stream(self) -> None:
        self._reset_tx()
        self._codecs: dict[int, RowCodec | None] = {}
        stream = self._stream = self._open_stream()
        try:
            stream.run(self, self._stop)
            if not self._stop.is_set():
                raise _Reconnect("end of stream")
        finally:
            self._stream = None
            stream.close()

    def _is_matched(self, schema: str, table: str) -> bool:
        key = (schema, table)
        found = self._matched.get(key)
        if found is None:
            pairs = self.pipeline.pair_for(schema, table)
            if schema == "retl":  # system schema: only pairs that name it explicitly
                pairs = [p for p in pairs if p.source.schema == "retl"]
                pairs = pairs or (table in signals.EMITTED_TABLES)  # snapshot watermarks, resync requests
            found = self._matched[key] = bool(pairs)
        return found

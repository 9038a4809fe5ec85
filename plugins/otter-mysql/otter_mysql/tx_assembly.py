"""The selector's event handlers: whole transactions from GTID, rows and commit events.

Mixed into ``MySQLSelector``; both binlog readers (``binlog_reader``, ``library_reader``) call these
methods with plain values. A transaction's rows are collected as chunks (``handover``) and queued as one
``Transaction`` at its commit; bookkeeping events after a commit move the position without rows.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from otter_core.spi import EventType, Position, SourceError, Transaction
from otter_mysql import handover, retl
from otter_mysql.rowcodec import DELETE, UPDATE, WRITE, RowCodec

log = logging.getLogger("otter_mysql.selector")
_ETYPE = {WRITE: EventType.INSERT, DELETE: EventType.DELETE, UPDATE: EventType.UPDATE}


def _later(a: tuple[str, int], b: tuple[str, int]) -> bool:
    """Binlog position ``a`` after ``b`` (file names compare by length first: mariadb-bin.1000000)."""
    return (len(a[0]), a[0], a[1]) > (len(b[0]), b[0], b[1])


class TransactionAssembly:
    """Mixed into ``MySQLSelector``, which has the attributes declared here."""

    label: str
    pipeline: Any
    schema: Any
    history: Any
    loopback: Any
    _queue: Any
    _ready: Any
    _stream: Any
    _deferred: bool
    _before: bool
    _resume: Position | None
    _last_gtid: str | None
    _failures: int
    _history_saved: float
    _codecs: dict[int, RowCodec | None]
    _is_matched: Any
    _register: Any
    _deferred_transaction: Any

    def _reset_tx(self) -> None:
        self._chunks: list[tuple] = []
        self._gtid: str | None = None
        self._in_tx = False
        self._tx_size = 0
        self.loopback.reset()

    def _on_rotate(self, real: bool) -> None:
        if real:  # a real rotation may follow a server restart: table ids are reused
            self._codecs.clear()
        self._ready.set()

    def _forget_table(self, table_id: int) -> None:
        """A new Table_map for ``table_id``: its decoder is built again from it."""
        self._codecs.pop(table_id, None)

    def _on_gtid(self, gtid: str, in_tx: bool | None) -> None:
        """``in_tx``: MariaDB's GTID event opens the transaction unless it is standalone (a DDL); None for
        MySQL, whose transactions start with a BEGIN query."""
        self._reset_tx()
        self._gtid = gtid
        if in_tx is not None:
            self._in_tx = in_tx

    def _on_commit(self, log_pos: int, timestamp: int) -> None:
        stream = self._stream
        pos = Position(stream.log_file if stream else None, log_pos, self._gtid, int(timestamp))
        if self.loopback.drop_transaction():
            self._chunks = []  # our own loader wrote it: not sent back; the empty transaction moves the position
        # home side (is_remedy): a far-side change applied here goes back once, as home has the row now
        if self._deferred and self._chunks:
            txn = self._deferred_transaction(
                self._chunks, pos, self._tx_size, self.loopback.is_remedy, self.loopback.resolution
            )
        else:
            txn = Transaction(
                tuple(
                    handover.build_events(
                        self._chunks,
                        pos,
                        self.loopback.is_remedy,
                        before=self._before,
                        resolution=self.loopback.resolution,
                    )
                ),
                pos,
                self._tx_size,
            )
        self._queue.put(txn)
        self._moved(pos)
        self._last_gtid = self._gtid or self._last_gtid
        self._reset_tx()

    def _on_run(
        self, names: tuple, blob: bytes, count: int, size: int, log_pos: int, gtid: str, timestamp: int
    ) -> None:
        """``count`` plain transactions the compiled loop packed as it read them (``_native/scanrun.c``),
        queued as one ``Transaction`` at the last one's position; the hand-over sends the run as it is
        (``handover.DeferredDecoding.pack_handover``)."""
        stream = self._stream
        pos = Position(stream.log_file if stream else None, log_pos, gtid, timestamp)
        self._queue.put(Transaction((), pos, size, (handover.RUN, names, blob, count)))
        self._moved(pos)
        self._last_gtid = gtid

    def _on_bookkeeping(self, log_pos: int, timestamp: int) -> None:
        """A Binlog_checkpoint, Gtid_list, Format_description or Stop event. After a commit, with no
        transaction open, the position moves past it (an empty transaction), so a binlog that ends with
        one is read to its end (SHOW MASTER STATUS). Never before the first commit read: at a GTID start
        the server sends such events from before the requested transaction."""
        stream = self._stream
        resume = self._resume
        if stream is None or resume is None or self._in_tx or self._chunks or self._gtid is not None:
            return
        file = stream.log_file
        if file is None or resume.file is None or not _later((file, log_pos), (resume.file, resume.pos or 0)):
            return
        pos = Position(file, log_pos, self._last_gtid, resume.timestamp)  # the last commit's time
        self._queue.put(Transaction((), pos, 0))
        self._moved(pos)

    def _moved(self, pos: Position) -> None:
        """Every event up to ``pos`` was read: the reconnect point, and the schema history's reach."""
        stream = self._stream
        if (
            stream is not None
            and self.history.high is not None
            and (stream.log_file, pos.pos) > self.history.high
        ):
            self.history.high = (stream.log_file, pos.pos)  # every DDL up to here is in the history
            if time.monotonic() - self._history_saved > 5:
                self._save_history()
        self._resume = pos
        self._failures = 0

    def _save_history(self) -> None:
        self._history_saved = time.monotonic()
        try:
            self.history.save()
        except OSError as exc:
            log.warning("%s: cannot save the schema history to %s: %s", self.label, self.history.path, exc)

    def _reading(self) -> Any:
        """The stream being read: the event handlers run only inside its loop."""
        if self._stream is None:
            raise SourceError(f"{self.label}: the binlog stream is not open")
        return self._stream

    def _codec(self, table: Any, log_pos: int) -> RowCodec | None:
        table_id = table.table_id
        if table_id in self._codecs:
            return self._codecs[table_id]
        codec = None
        schema, name = table.schema, table.table
        if not self._is_matched(schema, name) and schema == retl.SCHEMA and name in retl.SYSTEM_TABLES:
            try:  # loopback marks are read even when no pair takes them; one that cannot be read is ignored
                codec = RowCodec(self.schema.get(schema, name), table.columns)
            except SourceError as exc:
                log.warning(
                    "%s: cannot read %s.%s rows (%s); loopback marks there are ignored",
                    self.label,
                    schema,
                    name,
                    exc,
                )
                self.schema.invalidate(schema, name)
        elif self._is_matched(schema, name):
            at = (self._reading().log_file, log_pos)
            layout = self.history.layout(schema, name, at)
            codec = RowCodec(layout, table.columns, f" at {at[0]}:{at[1]}")
        self._codecs[table_id] = self._register(codec)
        return codec

    def _on_rows(
        self,
        kind: str,
        table: Any,
        log_pos: int,
        timestamp: int,
        bitmap: bytes,
        bitmap2: bytes | None,
        body: bytes,
    ) -> None:
        codecs = self._codecs
        codec = (
            codecs[table.table_id]
            if table.table_id in codecs
            else self._codec_or_reject(kind, table, log_pos, timestamp)
        )
        if codec is None:
            return
        schema, name = table.schema, table.table
        system = schema == retl.SCHEMA and name in retl.SYSTEM_TABLES
        if self._deferred and not system:  # decoded by the runner (handover.RawExpander)
            raw = (codec.ident, kind, bitmap, bitmap2, body, self._stream.log_file, log_pos)
            self._chunks.append((handover.RAW, schema, name, _ETYPE[kind], float(timestamp), raw))
            self._tx_size += len(body)
            return
        etype = _ETYPE[kind]
        try:
            if kind is UPDATE:
                rows = codec.decoder(kind, bitmap, bitmap2, self._before)(body)
            else:
                rows = codec.decoder(kind, bitmap)(body)
        except SourceError:
            raise
        except Exception as exc:
            where = f"{self._reading().log_file}:{log_pos}"
            message = handover.decode_error(self.label, etype, schema, name, where, exc)
            if not self.pipeline.parameters.skip_select_exception:
                raise SourceError(message, retryable=False) from exc
            # skip_select_exception: the engine writes this marker to the reject log and drops it
            self._chunks.append((handover.REJECTED, schema, name, etype, float(timestamp), message))
            return
        if system:
            self.loopback.on_rows(name, kind is DELETE, rows, float(timestamp))
            if not self._is_matched(schema, name):
                return
        self._chunks.append((kind, schema, name, etype, float(timestamp), rows))
        self._tx_size += len(body)

    def _codec_or_reject(self, kind: str, table: Any, log_pos: int, timestamp: int) -> RowCodec | None:
        try:
            return self._codec(table, log_pos)
        except SourceError as exc:
            if not self.pipeline.parameters.skip_select_exception:
                raise
            etype = _ETYPE[kind]
            self._chunks.append(
                (handover.REJECTED, table.schema, table.table, etype, float(timestamp), str(exc))
            )
            return None

"""The system schema ``retl`` of two-way sync: loopback marks and the record of applied DDL.

The loader writes one ``retl_mark`` row as the first statement of every transaction it applies (the
upsert always changes the row, so the binlog always carries it); the selector of the reverse direction
drops a transaction that carries a mark of its own channel. A mark whose ``channel_info`` ends in
``_SYNC`` was written by an external sync tool: every selector drops it (as otter does).

DDL has no transaction: before applying a DDL the loader inserts ``retl_ddl(hash, channel)`` in its own
transaction; the reverse selector, reading the same server, sees that row first and skips the next DDL
with that hash. When the DDL fails or was applied already, the row is deleted again, or, if it recorded the
same DDL applied earlier, gets that DDL's GTID back (a reverse selector restarted before it still needs it).
"""

from __future__ import annotations

import hashlib
import logging
import zlib
from typing import Any

import attrs
import pymysql

from otter_core.spi import OtterError
from otter_mysql import conflict_log

log = logging.getLogger("otter.load")
SCHEMA = "retl"
MARK_TABLE = "retl_mark"
DDL_TABLE = "retl_ddl"
CONFLICT_TABLE = conflict_log.TABLE
FENCE_TABLE = "retl_fence"
SYSTEM_TABLES = frozenset({MARK_TABLE, DDL_TABLE, CONFLICT_TABLE})
SYNC_SUFFIX = "_SYNC"
CREATE_SQL = (
    f"CREATE DATABASE IF NOT EXISTS `{SCHEMA}`",
    f"CREATE TABLE IF NOT EXISTS `{SCHEMA}`.`{MARK_TABLE}` (id INT NOT NULL PRIMARY KEY, "
    "channel_id VARCHAR(64) NOT NULL, channel_info VARCHAR(128) NOT NULL DEFAULT '', "
    "seq BIGINT NOT NULL DEFAULT 0, gmt_modified DATETIME(6) NOT NULL)",
    f"CREATE TABLE IF NOT EXISTS `{SCHEMA}`.`{DDL_TABLE}` (hash CHAR(40) NOT NULL, "
    "channel VARCHAR(64) NOT NULL, applied_at DATETIME(6) NOT NULL, gtid VARCHAR(64) NULL, "
    "PRIMARY KEY (hash, channel))",
    conflict_log.CREATE_SQL,
    # ZooKeeper mode: the newest fencing token of each pipeline's loads (otter_mysql.fencing)
    f"CREATE TABLE IF NOT EXISTS `{SCHEMA}`.`{FENCE_TABLE}` (pipeline VARCHAR(191) NOT NULL PRIMARY KEY, "
    "token BIGINT NOT NULL, gmt_modified DATETIME(6) NOT NULL)",
)
MARK_SQL = (
    f"INSERT INTO `{SCHEMA}`.`{MARK_TABLE}` (id, channel_id, channel_info, seq, gmt_modified) "
    "VALUES (%s, %s, %s, 1, NOW(6)) ON DUPLICATE KEY UPDATE channel_id = VALUES(channel_id), "
    "channel_info = VALUES(channel_info), seq = seq + 1, gmt_modified = NOW(6)"
)
DDL_RECORD_SQL = f"REPLACE INTO `{SCHEMA}`.`{DDL_TABLE}` (hash, channel, applied_at) VALUES (%s, %s, NOW(6))"
DDL_FORGET_SQL = f"DELETE FROM `{SCHEMA}`.`{DDL_TABLE}` WHERE hash = %s AND channel = %s"
DDL_DONE_SQL = f"UPDATE `{SCHEMA}`.`{DDL_TABLE}` SET gtid = %s WHERE hash = %s AND channel = %s"
DDL_PREVIOUS_SQL = f"SELECT gtid FROM `{SCHEMA}`.`{DDL_TABLE}` WHERE hash = %s AND channel = %s FOR UPDATE"
# DDL records a restarted selector may not have seen the DDL of yet: done after its resume point, or not
# known to be done (the DDL is still running on the other pipeline) and recent
DDL_PENDING_SQL = (
    f"SELECT hash, gtid FROM `{SCHEMA}`.`{DDL_TABLE}` WHERE channel = %s AND "
    "(gtid IS NOT NULL OR applied_at > NOW(6) - INTERVAL 10 MINUTE)"
)
NO_GRANT = {1044, 1045, 1142, 1227, 1370}


def ddl_hash(schema: str | None, sql: str) -> str:
    """The identity of one DDL statement as applied (schema + text)."""
    return hashlib.sha1(f"{schema or ''}\0{sql.strip()}".encode()).hexdigest()


def mark_id(channel: str, pipeline: str, slot: int) -> int:
    """The ``retl_mark.id`` a loader slot writes: one row per (channel, pipeline, slot)."""
    return zlib.crc32(f"{channel}/{pipeline}".encode()) % 10_000_000 * 64 + slot % 64


def ensure_tables(conn: Any, label: str, error: type[OtterError]) -> None:
    """Create the ``retl`` schema and tables when missing; a missing grant raises ``error`` naming it."""
    try:
        with conn.cursor() as cur:
            for sql in CREATE_SQL:
                cur.execute(sql)
        conn.commit()
    except pymysql.Error as exc:
        code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
        if code in NO_GRANT:
            raise error(
                f"{label}: cannot create the system schema `{SCHEMA}` for two-way sync "
                f"({exc.args[-1]}); run `otter-run init-db` as an administrator, or "
                f"GRANT CREATE, SELECT, INSERT, UPDATE, DELETE ON `{SCHEMA}`.* TO the user of this "
                f"source",
                retryable=False,
            ) from None
        raise


@attrs.frozen
class DdlRecord:
    """A ``retl_ddl`` row the loader wrote before a DDL, and the GTID the row held before (the same DDL
    applied earlier, as after a replay), which ``forget_ddl`` puts back."""

    digest: str
    channel: str
    previous_gtid: str | None = None


def record_ddl(conn: Any, schema: str | None, sql: str, channel: str) -> DdlRecord:
    """Commit the record of a DDL about to be applied (the reverse selector skips its echo)."""
    digest = ddl_hash(schema, sql)
    with conn.cursor() as cur:
        cur.execute(DDL_PREVIOUS_SQL, (digest, channel))
        found = cur.fetchone()
        cur.execute(DDL_RECORD_SQL, (digest, channel))
    conn.commit()
    return DdlRecord(digest, channel, text(found[0]) or None if found else None)


def forget_ddl(conn: Any, record: DdlRecord, target: str) -> None:
    """Undo the record: the DDL failed or was already applied, so no DDL follows it in the binlog. A
    record of the same DDL applied earlier gets its GTID back rather than being deleted: a reverse
    selector restarted before that DDL's position still needs it to skip the echo."""
    try:
        conn.rollback()
        with conn.cursor() as cur:
            if record.previous_gtid:
                cur.execute(DDL_DONE_SQL, (record.previous_gtid, record.digest, record.channel))
            else:
                cur.execute(DDL_FORGET_SQL, (record.digest, record.channel))
        conn.commit()
    except pymysql.Error as exc:
        log.warning("could not forget the DDL record %s on %s: %s", record.digest, target, exc)


def note_ddl_done(conn: Any, digest: str, channel: str) -> None:
    """Record the GTID of the DDL just run (MariaDB ``@@last_gtid``), so a reverse selector restarted
    later knows whether the DDL is before or after its resume point. Best effort: without it a recent
    record still counts as pending."""
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT @@last_gtid")
            gtid = cur.fetchone()[0]
            if gtid:
                cur.execute(DDL_DONE_SQL, (gtid, digest, channel))
        conn.commit()
    except pymysql.Error:
        conn.rollback()


def is_sync_info(info: Any) -> bool:
    """A ``channel_info`` written by an external sync tool (ends in ``_SYNC``): ignored by every channel."""
    if isinstance(info, bytes):
        info = info.decode("utf-8", "replace")
    return isinstance(info, str) and info.upper().endswith(SYNC_SUFFIX)


def _gtid_parts(gtid: str) -> tuple[int, int, int]:
    try:
        domain, server, seq = (int(x) for x in gtid.split(",")[0].strip().split("-"))
    except ValueError:
        return -1, -1, -1
    return domain, server, seq


def text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)


class LoopbackTracker:
    """What the system schema tells a selector about the transaction it is reading: whether it carries a
    mark of the selector's own channel (our loader wrote it) or of an external sync tool, and which DDL
    our channel's loader applied on this server (so its echo is skipped)."""

    def __init__(self, channel: str, home: bool) -> None:
        self.channel = channel
        self.home = home
        self.ddl_echoes: dict[str, float] = {}
        self.dropped = 0  # transactions dropped for a mark of our channel
        self.reset()

    def reset(self) -> None:
        self.own = False  # the transaction carries a retl_mark of our channel
        self.external = False  # ... or one an external sync tool wrote (channel_info ends in _SYNC)
        self.resolution = False  # ... or it is an operator's resolution of our channel's conflicts

    def preload(self, conn: Any, resume_gtid: str | None) -> int:
        """Pending DDL echoes a restart would forget: records of our channel whose DDL ran after the
        resume point (its GTID is later) or whose DDL is not known to have run (recent record without
        GTID). Returns how many were loaded; a missing ``retl_ddl`` table means none."""
        if not resume_gtid:
            return 0
        domain, _, seq = _gtid_parts(resume_gtid)
        try:
            with conn.cursor() as cur:
                cur.execute(DDL_PENDING_SQL, (self.channel,))
                rows = cur.fetchall()
        except pymysql.Error:
            return 0
        loaded = 0
        for digest, gtid in rows:
            if gtid:
                d, _, n = _gtid_parts(text(gtid))
                if d != domain or n <= seq:
                    continue
            self.ddl_echoes[text(digest)] = 0.0
            loaded += 1
        return loaded

    def on_rows(self, table: str, deleted: bool, rows: list, timestamp: float) -> None:
        for row in rows:
            values = {**row[0], **row[1]}
            if table == CONFLICT_TABLE:
                if (
                    not deleted
                    and text(values.get("channel")) == self.channel
                    and text(values.get("outcome")).startswith("resolved-")
                ):
                    self.resolution = True
            elif table == MARK_TABLE:
                if deleted:
                    continue
                if is_sync_info(values.get("channel_info")):
                    self.external = True
                elif text(values.get("channel_id")) == self.channel:
                    self.own = True
            elif text(values.get("channel")) == self.channel:
                digest = text(values.get("hash"))
                # a GTID set: the loader noting a DDL it ran (whose echo was skipped just before) or putting
                # back the record of a DDL it found already applied (no DDL follows): not pending either way
                if deleted or values.get("gtid"):
                    self.ddl_echoes.pop(digest, None)
                else:
                    self.ddl_echoes[digest] = timestamp

    @property
    def is_remedy(self) -> bool:
        """The home side sends its own channel's marked transactions back once (home wins), unless an
        external tool marked them."""
        return self.own and self.home and not self.external

    def drop_transaction(self) -> bool:
        """True when the transaction must not be sent on (a loopback, or an external tool's change)."""
        drop = (self.own or self.external) and not self.is_remedy
        if drop:
            self.dropped += 1
        return drop

    def is_echo(self, default_schema: str | None, query: str) -> bool:
        """True (once) for a DDL our channel's loader applied on this server."""
        return (
            bool(self.ddl_echoes) and self.ddl_echoes.pop(ddl_hash(default_schema, query), None) is not None
        )

"""Opening a binlog dump on a PyMySQL connection: the session settings and the COM_BINLOG_DUMP command.

This is the protocol python-mysql-replication speaks (the selector used it until otter read the stream
itself), sent the same way: the checksum capability, the heartbeat period, MariaDB's slave capability,
and for a MariaDB GTID start ``@slave_connect_state`` with an empty file name. The replica registers by
its ``server_id`` in the dump command (no COM_REGISTER_SLAVE, as before).
"""

from __future__ import annotations

import struct
from typing import Any

COM_BINLOG_DUMP = 0x12
MAX_HEARTBEAT_S = 4294967  # the server's bound on master_heartbeat_period


def heartbeat_ns(period_s: float, read_timeout: float) -> int:
    """The heartbeat period to ask for, in nanoseconds: at most half the read timeout, so an idle
    stream sends something before the socket would time out."""
    return int(min(period_s, read_timeout / 2.0, MAX_HEARTBEAT_S) * 1_000_000_000)


def checksum_of(conn: Any) -> str:
    """The server's ``binlog_checksum`` (``NONE`` or ``CRC32``)."""
    with conn.cursor() as cur:
        cur.execute("SHOW GLOBAL VARIABLES LIKE 'BINLOG_CHECKSUM'")
        row = cur.fetchone()
    return str(row[1]).upper() if row else "NONE"


def open_dump(
    conn: Any, server_id: int, point: dict[str, Any], heartbeat_s: float, non_block: bool = False
) -> bool:
    """Send the session settings and the dump command for ``point`` (``{"log_file", "log_pos"}`` or
    ``{"gtid"}``); True when events will carry a CRC32 checksum (until a Format_description says
    otherwise for its file). ``non_block``: the server ends the dump (EOF) at the binlog's end."""
    crc = checksum_of(conn) != "NONE"
    read_timeout = float(getattr(conn, "_read_timeout", None) or MAX_HEARTBEAT_S)
    with conn.cursor() as cur:
        if crc:  # tells the server we can read checksums (else it refuses to send them)
            cur.execute("SET @master_binlog_checksum = @@global.binlog_checksum")
        if heartbeat_s:
            cur.execute("SET @master_heartbeat_period = %s", (heartbeat_ns(heartbeat_s, read_timeout),))
        # GTID events as they are (capability 4); a lower one makes MariaDB 10.6.12+ fail file starts
        cur.execute("SET @mariadb_slave_capability = 4")
        if "gtid" in point:
            cur.execute("SET @slave_connect_state = %s", (point["gtid"],))
            cur.execute("SET @slave_gtid_strict_mode = 1")
            cur.execute("SET @slave_gtid_ignore_duplicates = 0")
            file, pos = b"", 4
        else:
            file, pos = str(point["log_file"]).encode(), int(point["log_pos"])
    flags = 1 if non_block else 0  # BINLOG_DUMP_NON_BLOCK
    payload = struct.pack("<BIHI", COM_BINLOG_DUMP, pos, flags, server_id) + file
    conn._write_bytes(struct.pack("<I", len(payload))[:3] + b"\x00" + payload)
    conn._next_seq_id = 1
    return crc

"""Whether a pipeline is at the end of a source's binlog: a pipeline acks transactions, so events the
server writes outside any transaction (a Binlog_checkpoint after a rotation) are never acked, and a wait
for the binlog's end must accept them (tests and benchmarks that wait for "caught up" use this)."""

from __future__ import annotations

from otter_core.testing.mariadb import MariaDBServer

# Events a server writes outside any transaction (a Binlog_checkpoint comes after a rotation, when the
# previous file's transactions are durable): nothing for a pipeline to load or ack.
BOOKKEEPING_EVENTS = {"Binlog_checkpoint", "Gtid_list", "Format_desc", "Rotate", "Stop"}


def only_bookkeeping_after(server: MariaDBServer, acked: tuple[str, int], end: tuple[str, int]) -> bool:
    """Whether every event from ``acked`` to ``end`` (binlog (file, pos)) is a bookkeeping event."""
    files = [row[0] for row in server.execute("SHOW BINARY LOGS") if acked[0] <= row[0] <= end[0]]
    for file in files:
        start = acked[1] if file == acked[0] else 4
        events = server.execute(f"SHOW BINLOG EVENTS IN '{file}' FROM {int(start)} LIMIT 100")
        for event in events:
            if (file, int(event[1])) >= end:
                return True
            if event[2] not in BOOKKEEPING_EVENTS:
                return False
        if len(events) == 100:  # more than bookkeeping (a few per file): not looked at, not caught up
            return False
    return True

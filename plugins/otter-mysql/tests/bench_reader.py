"""The selector's CPU per OLTP transaction with each binlog reader (``parameters.binlog_reader``).

Run: ``python plugins/otter-mysql/tests/bench_reader.py [transactions] [rounds] [native,python,library]``
(``python``: the native reader with its Python event loop, ``OTTER_BINLOG_LOOP=python``; starts a throwaway
MariaDB). A stored procedure writes transactions shaped like sysbench ``oltp_write_only`` (an UPDATE of
an indexed column, an UPDATE of a string, a DELETE and an INSERT of one key, over four tables); then the
selector reads them as it does in the selector process (``defer_decoding``: rows stay raw) with the
native and the library reader in turn, and this prints the CPU seconds of this process per transaction
(user + sys; reading, assembling transactions and queueing them, no pickling) and the wall time.
"""

from __future__ import annotations

import os
import resource
import sys
import time

from selector_support import make_pipeline, make_source

from otter_core.testing.mariadb import MariaDBServer
from otter_mysql.binlog_reader import LOOP_ENV
from otter_mysql.selector import MySQLSelector

PROCEDURE = """
CREATE PROCEDURE bench.oltp(n INT)
BEGIN
  DECLARE i INT DEFAULT 0;
  WHILE i < n DO
    START TRANSACTION;
    UPDATE bench.t1 SET k = k + 1 WHERE id = 1 + (i % 1000);
    UPDATE bench.t2 SET c = CONCAT('c-', i, '-abcdefghijklmnopqrstuvwxyz') WHERE id = 1 + ((i * 7) % 1000);
    DELETE FROM bench.t3 WHERE id = 1 + ((i * 13) % 1000);
    INSERT INTO bench.t3 VALUES (1 + ((i * 13) % 1000), i, CONCAT('c-', i), 'pad');
    COMMIT;
    SET i = i + 1;
  END WHILE;
END
"""


def cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def prepare(server: MariaDBServer, transactions: int) -> tuple[str, int]:
    server.execute("CREATE DATABASE bench")
    for t in ("t1", "t2", "t3", "t4"):
        server.execute(
            f"CREATE TABLE bench.{t} (id INT PRIMARY KEY, k INT NOT NULL, c CHAR(120) NOT NULL, "
            f"pad CHAR(60) NOT NULL, KEY (k))",
            f"INSERT INTO bench.{t} SELECT seq, seq, CONCAT('c-', seq), 'pad' FROM bench.seq_1_to_1000",
        )
    server.execute(PROCEDURE)
    start = server.binlog_position()
    server.execute(f"CALL bench.oltp({transactions})")
    return start


def read(
    server: MariaDBServer, start: tuple[str, int], transactions: int, reader: str
) -> tuple[float, float]:
    pairs = [("bench", t) for t in ("t1", "t2", "t3", "t4")]
    # "python": otter's reader with its Python event loop (the compiled one switched off)
    os.environ.pop(LOOP_ENV, None)
    if reader == "python":
        os.environ[LOOP_ENV] = "python"
    pipeline = make_pipeline(
        pairs,
        {"kind": "position", "file": start[0], "pos": start[1]},
        binlog_reader="native" if reader == "python" else reader,
    )
    selector = MySQLSelector(make_source(server), pipeline)
    selector.defer_decoding()
    c0, t0 = cpu(), time.perf_counter()
    selector.start(None)
    got = 0
    try:
        while got < transactions:
            tx = selector.poll(10)
            if tx is None:
                raise RuntimeError(f"{reader}: only {got} of {transactions} transactions")
            got += tx.raw is not None
    finally:
        selector.close()
    return cpu() - c0, time.perf_counter() - t0


def main() -> None:
    transactions = int(sys.argv[1]) if len(sys.argv) > 1 else 30_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    readers = sys.argv[3].split(",") if len(sys.argv) > 3 else ["native", "python", "library"]
    with MariaDBServer(server_id=91) as server:
        server.start()
        start = prepare(server, transactions)
        print(
            f"{transactions} transactions of 4 row changes; load average {time.strftime('%H:%M')}: ", end=""
        )
        print(os.getloadavg())
        for r in range(rounds):
            for reader in readers if r % 2 == 0 else readers[::-1]:
                cpu_s, wall = read(server, start, transactions, reader)
                print(
                    f"round {r + 1} {reader:8} CPU {cpu_s:6.2f} s = {cpu_s / transactions * 1e6:6.1f} us/tx, "
                    f"wall {wall:6.2f} s ({transactions / wall:8.0f} tx/s)"
                )


if __name__ == "__main__":
    main()

"""What the target MariaDB spends per 100k rows on each way of writing them (CPU s of its ``mariadbd``).

One throwaway MariaDB without binlog, the benchmark's table (``workloads.TABLE_DDL``), ``--rows`` rows
written in ``--chunk``-row statements on one connection, committed per statement: ``INSERT … ON
DUPLICATE KEY UPDATE`` (what the MySQL loader sends), plain ``INSERT``, ``LOAD DATA LOCAL INFILE``
with ``REPLACE`` and with ``IGNORE``; then a replay of REPLACE and of the upsert over the existing rows;
then one-column updates of every row three ways: the field-mode upsert (all columns in ``VALUES``, the
changed one in ``ON DUPLICATE KEY UPDATE``), ``UPDATE … SET qty = CASE id WHEN … END WHERE id IN (…)``
and the UPDATE join the MySQL loader sends to MariaDB (``dialect.update_join_parts``).
Last, the same inserts, one-column updates and deletes as row events, the way a replica applies them:
written on a second throwaway MariaDB with a binlog, printed by ``mariadb-binlog`` as ``BINLOG '…'``
statements and fed to the measured server by the ``mariadb`` client (``--row-events``; on by default).
Usage: ``python bench/target_statements.py [--rows 200000] [--chunk 1000]``.
"""

from __future__ import annotations

import argparse
import datetime
import glob
import os
import subprocess
import tempfile
import time

from workloads import NOTE, TABLE_DDL

from otter_core.testing.mariadb import SERVER_USER, MariaDBServer
from otter_mysql.dialect import update_join_parts

COLUMNS = "(`id`,`qty`,`name`,`price`,`at`,`note`)"
UPSERT = (
    " ON DUPLICATE KEY UPDATE `qty`=VALUES(`qty`),`name`=VALUES(`name`),`price`=VALUES(`price`),"
    "`at`=VALUES(`at`),`note`=VALUES(`note`)"
)


def cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rows(lo: int, hi: int):
    for i in range(lo, hi):
        at = datetime.datetime(2024, 1, 1) + datetime.timedelta(seconds=i)
        yield i, i, f"name-{i:08d}", f"{(i % 10000000) / 100:.2f}", f"{at:%Y-%m-%d %H:%M:%S}", NOTE


def literal(r) -> str:
    return f"({r[0]},{r[1]},'{r[2]}',{r[3]},'{r[4]}','{r[5]}')"


def row_event_scripts(args: argparse.Namespace, workdir: str) -> dict[str, bytes]:
    """``mariadb-binlog`` output (BINLOG statements) for the inserts, one-column updates and deletes of
    ``args.rows`` rows in ``args.chunk``-row transactions, written on a throwaway source (row images FULL)."""
    source = MariaDBServer(os.path.join(workdir, "source"), server_id=7).start()
    try:
        source.root_execute("CREATE DATABASE bench", TABLE_DDL)
        conn = source.root_connect()
        conn.autocommit(False)
        cur = conn.cursor()
        statements = {
            "insert": lambda lo, hi: (
                f"INSERT INTO `bench`.`t` {COLUMNS} VALUES " + ",".join(map(literal, rows(lo, hi)))
            ),
            "update 1 column": lambda lo, hi: (
                f"UPDATE `bench`.`t` SET qty = qty + 1 WHERE id >= {lo} AND id < {hi}"
            ),
            "delete": lambda lo, hi: f"DELETE FROM `bench`.`t` WHERE id >= {lo} AND id < {hi}",
        }
        binlog, start = source.binlog_position()
        marks = {}
        for name, statement in statements.items():
            for lo in range(1, args.rows + 1, args.chunk):
                cur.execute(statement(lo, min(lo + args.chunk, args.rows + 1)))
                conn.commit()
            marks[name] = source.binlog_position()[1]
        conn.close()
        path = glob.glob(os.path.join(workdir, "source", "**", binlog), recursive=True)[0]
        scripts = {}
        for name, stop in marks.items():
            scripts[name] = subprocess.run(
                ["mariadb-binlog", f"--start-position={start}", f"--stop-position={stop}", path],
                capture_output=True,
                check=True,
            ).stdout
            start = stop
        return scripts
    finally:
        source.stop()
        source.destroy()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--chunk", type=int, default=1000)
    ap.add_argument(
        "--no-row-events",
        dest="row_events",
        action="store_false",
        help="skip the row events applied as BINLOG statements",
    )
    args = ap.parse_args()
    workdir = tempfile.mkdtemp(prefix="otter-target-statements-")
    server = MariaDBServer(workdir, log_bin=False).start()
    tsv = os.path.join(workdir, "rows.tsv")
    try:
        conn = server.root_connect(local_infile=True)
        conn.autocommit(False)
        cur = conn.cursor()
        cur.execute("CREATE DATABASE bench")
        cur.execute(TABLE_DDL)

        def upsert(lo, hi):
            cur.execute(
                f"INSERT INTO `bench`.`t` {COLUMNS} VALUES " + ",".join(map(literal, rows(lo, hi))) + UPSERT
            )

        def insert(lo, hi):
            cur.execute(f"INSERT INTO `bench`.`t` {COLUMNS} VALUES " + ",".join(map(literal, rows(lo, hi))))

        def load_data(mode):
            def load(lo, hi):
                with open(tsv, "w") as f:
                    f.write("".join("\t".join(map(str, r)) + "\n" for r in rows(lo, hi)))
                cur.execute(f"LOAD DATA LOCAL INFILE %s {mode} INTO TABLE `bench`.`t` {COLUMNS}", (tsv,))

            return load

        def measure(name, write, empty=True):
            if empty:
                cur.execute("TRUNCATE bench.t")
            c0, t0 = cpu_seconds(server.process.pid), time.perf_counter()
            for lo in range(1, args.rows + 1, args.chunk):
                write(lo, min(lo + args.chunk, args.rows + 1))
                conn.commit()
            c1, t1 = cpu_seconds(server.process.pid), time.perf_counter()
            print(
                f"{name:<40} mariadbd CPU s/100k {1e5 * (c1 - c0) / args.rows:6.3f}   "
                f"wall s/100k {1e5 * (t1 - t0) / args.rows:6.3f}"
            )

        measure("INSERT … ON DUPLICATE KEY UPDATE", upsert)
        measure("INSERT", insert)
        measure("LOAD DATA LOCAL INFILE … REPLACE", load_data("REPLACE"))
        measure("LOAD DATA LOCAL INFILE … IGNORE", load_data("IGNORE"))
        measure("LOAD DATA … REPLACE over existing rows", load_data("REPLACE"), empty=False)
        measure("INSERT … ON DUPLICATE KEY UPDATE over existing", upsert, empty=False)

        generation = [0]

        def changed(lo, hi):
            generation[0] += 1  # every round changes qty again (an unchanged row costs the server less)
            for r in rows(lo, hi):
                yield (r[0], r[1] + generation[0]) + r[2:]

        def field_upsert(lo, hi):
            cur.execute(
                f"INSERT INTO `bench`.`t` {COLUMNS} VALUES "
                + ",".join(map(literal, changed(lo, hi)))
                + " ON DUPLICATE KEY UPDATE `qty`=VALUES(`qty`)"
            )

        def update_case(lo, hi):
            pairs = [(r[0], r[1]) for r in changed(lo, hi)]
            cur.execute(
                "UPDATE `bench`.`t` SET `qty` = CASE `id` "
                + " ".join(f"WHEN {i} THEN {q}" for i, q in pairs)
                + " END WHERE `id` IN ("
                + ",".join(str(i) for i, _ in pairs)
                + ")"
            )

        head, tail = update_join_parts("bench", "t", ["id"], ["qty"])

        def update_join(lo, hi):
            cur.execute(head + ",".join(f"({r[0]},{r[1]})" for r in changed(lo, hi)) + tail)

        measure("update 1 column: field-mode upsert", field_upsert, empty=False)
        measure("update 1 column: UPDATE … CASE … WHERE IN", update_case, empty=False)
        measure("update 1 column: UPDATE JOIN (VALUES …)", update_join, empty=False)

        def delete(lo, hi):
            cur.execute("DELETE FROM `bench`.`t` WHERE `id` IN (" + ",".join(map(str, range(lo, hi))) + ")")

        measure("DELETE … WHERE id IN (…)", delete, empty=False)
        if args.row_events:
            cur.execute("TRUNCATE bench.t")
            conn.commit()
            for name, script in row_event_scripts(args, workdir).items():
                c0, t0 = cpu_seconds(server.process.pid), time.perf_counter()
                subprocess.run(
                    ["mariadb", "-S", server.socket_path, "-u", SERVER_USER], input=script, check=True
                )
                c1, t1 = cpu_seconds(server.process.pid), time.perf_counter()
                print(
                    f"{'row events (BINLOG): ' + name:<40} mariadbd CPU s/100k {1e5 * (c1 - c0) / args.rows:6.3f}   "
                    f"wall s/100k {1e5 * (t1 - t0) / args.rows:6.3f}"
                )
            left = server.execute("SELECT COUNT(*) FROM bench.t")[0][0]
            assert left == 0, f"{left} rows left after the row events' deletes"
    finally:
        server.stop()
        server.destroy()


if __name__ == "__main__":
    main()

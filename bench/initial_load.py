"""Initial load: ``otter-run load`` beside ``mysqldump | mysql`` and mydumper/myloader, same tables, same run.

    python bench/initial_load.py [--quick] [--rows 1000000] [--blob-rows 5000] [--blob-kb 8] [--json out.json]

Starts two throwaway MariaDB servers and fills, on the source, the four tables of
``otter_core.testing.load_scenario`` (``--rows`` rows in all: orders, lines, events with TEXT, tags with
VARBINARY) and a fifth, ``docs``, with ``--blob-rows`` rows of a ``--blob-kb`` KB random BLOB each. Then
each tool copies the same tables into its own empty database of the target server (nothing writes on the
source meanwhile):

1. ``otter-run load FILE --exit-when-done`` into ``loadtest`` (default pipeline parameters unless
   ``--param``), then ``otter-run verify`` over it;
2. ``mariadb-dump --single-transaction --quick | mariadb`` into ``loadtest_dump``;
3. ``mydumper --threads 4`` to a directory, then ``myloader --threads 4`` into ``loadtest_myd`` (Debian
   package ``mydumper``; the time is the sum of both, as a copy through a dump directory takes).

Every copy is compared with the source by ``CHECKSUM TABLE`` of every table. The report prints rows/s and
MB/s (the source's data length) side by side, otter's ratio to each peer, CPU seconds of the client
processes (``RUSAGE_CHILDREN``; the servers' own CPU is not in it) and the load average: the machine is
shared, so only ratios from the same run mean anything.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import yaml
from load_verify import log, otter, timed
from report import print_problems

from otter_core.testing.harness import pipeline_yaml
from otter_core.testing.load_scenario import SCHEMA, TABLES, create_tables
from otter_core.testing.mariadb import OTTER_PASSWORD, OTTER_USER, MariaDBServer, find_binary

BLOB_TABLE = "docs"
BLOB_DDL = "CREATE TABLE {s}.docs (id INT PRIMARY KEY, title VARCHAR(64), body LONGBLOB, updated DATETIME)"


def fill_blobs(source: MariaDBServer, target: MariaDBServer, rows: int, kb: int) -> int:
    """``rows`` rows of ``kb`` KB of random bytes each (no compression helps), in 1000-row statements."""
    for server in (source, target):
        server.execute(BLOB_DDL.format(s=SCHEMA))
    for lo in range(1, rows + 1, 1000):
        hi = min(rows, lo + 999)
        source.execute(
            f"INSERT INTO {SCHEMA}.docs SELECT seq, CONCAT('doc ', seq), "
            f"CONCAT({', '.join(['RANDOM_BYTES(1024)'] * kb)}), '2024-03-01' + INTERVAL seq MINUTE "
            f"FROM {SCHEMA}.seq_{lo}_to_{hi}"
        )
    return int(source.execute(f"SELECT COUNT(*) FROM {SCHEMA}.docs")[0][0])


def server_cpu(server: MariaDBServer) -> float:
    """CPU seconds (user + system) the server process has used so far (/proc, Linux)."""
    assert server.process is not None
    fields = Path(f"/proc/{server.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class InitialLoad:
    def __init__(self, args: argparse.Namespace, base: Path) -> None:
        self.args = args
        self.base = base
        pool = {"innodb_buffer_pool_size": args.buffer_pool}
        self.source = MariaDBServer(base / "source", server_id=31, **pool)
        self.target = MariaDBServer(base / "target", server_id=32, log_bin=False, **pool)
        self.tables = [*TABLES, BLOB_TABLE]
        self.results: dict = {"problems": []}
        self.loads: list[float] = []

    def load_sample(self) -> None:
        self.loads.append(round(os.getloadavg()[0], 2))
        cpu = (server_cpu(self.source), server_cpu(self.target))
        self.server_cpu = [round(b - a, 1) for a, b in zip(getattr(self, "_cpu_mark", cpu), cpu)]
        self._cpu_mark = cpu

    def checksums(self, server: MariaDBServer, schema: str) -> list[int]:
        tables = ", ".join(f"{schema}.{t}" for t in self.tables)
        return [row[1] for row in server.execute(f"CHECKSUM TABLE {tables}")]

    def verified(self, tool: str, schema: str) -> bool:
        equal = self.checksums(self.target, schema) == self.source_sums
        if not equal:
            self.results["problems"].append(f"{tool}: {schema} on the target differs from the source")
        return equal

    def figures(self, tool: str, seconds: float, cpu: float, schema: str, **extra: object) -> dict:
        fig = {
            "seconds": round(seconds, 2),
            "rows_per_s": round(self.rows / seconds),
            "mb_per_s": round(self.mb / seconds, 1),
            "client_cpu_s": round(cpu, 1),
            "verified": self.verified(tool, schema),
            "loadavg": self.loads[-1],
            "source_cpu_s": self.server_cpu[0],
            "target_cpu_s": self.server_cpu[1],
            **extra,
        }
        log(f"{tool}: {fig}")
        return fig

    def prepare(self) -> None:
        self.source.start()
        self.target.start()
        counts = create_tables(self.source, self.target, self.args.rows)
        counts[BLOB_TABLE] = fill_blobs(self.source, self.target, self.args.blob_rows, self.args.blob_kb)
        self.rows = sum(counts.values())
        self.source.execute(f"ANALYZE TABLE {', '.join(f'{SCHEMA}.{t}' for t in self.tables)}")
        data = self.source.execute(
            "SELECT SUM(data_length) FROM information_schema.tables WHERE table_schema = %s", args=(SCHEMA,)
        )
        self.mb = float(data[0][0]) / 2**20
        self.source_sums = self.checksums(self.source, SCHEMA)
        self.results.update(tables=counts, rows=self.rows, source_data_mb=round(self.mb, 1))
        log(f"source filled: {counts}, {self.mb:.0f} MB of data")

    def run_otter(self) -> None:
        work = self.base / "otter"
        work.mkdir()
        config = work / "bench.yaml"
        pairs = [{"source": f"{SCHEMA}.*", "target": f"{SCHEMA}.*"}]
        params = dict(self.args.param or [])
        config.write_text(
            yaml.safe_dump(
                yaml.safe_load(pipeline_yaml(self.source, self.target, pairs, channel="bench", **params))
            )
        )
        state = ["--state-dir", str(work / "state")]
        self.load_sample()
        if self.args.chunk_rows:
            state += ["--chunk-rows", str(self.args.chunk_rows)]
        command = otter("load", str(config), *state, "--exit-when-done", "--quiet")
        if self.args.profile:  # py-spy (pip install py-spy) around otter-run and its children
            Path(self.args.profile).mkdir(parents=True, exist_ok=True)
            spy = shutil.which("py-spy", path=os.path.dirname(sys.executable)) or "py-spy"
            mode = ["--idle"] if os.environ.get("OTTER_BENCH_WALL_PROFILE") else ["--gil"]
            out = str(Path(self.args.profile) / "otter-load.txt")
            command = [spy, "record", "--subprocesses", *mode, "--rate", "200", "--format", "raw"]
            command += ["--nonblocking", "--output", out, "--", *otter("load", str(config), *state)]
            command += ["--exit-when-done", "--quiet"]
        seconds, cpu, _ = timed(command)
        self.load_sample()
        verify_s, verify_cpu, done = timed(otter("verify", str(config), *state[:2], "--json"))
        summary = json.loads(done.stdout)["summary"]
        if summary["differences"]:
            self.results["problems"].append(f"otter-run verify: {summary['differences']} differences")
        self.results["otter_load"] = self.figures(
            "otter-run load",
            seconds,
            cpu,
            SCHEMA,
            verify={
                "seconds": round(verify_s, 2),
                "cpu_s": round(verify_cpu, 1),
                "differences": summary["differences"],
            },
        )

    def run_mysqldump(self) -> None:
        schema = f"{SCHEMA}_dump"
        self.target.execute(f"CREATE DATABASE {schema}")
        auth = f"-h127.0.0.1 -u{OTTER_USER} -p{OTTER_PASSWORD}"
        dump, client = find_binary("mariadb-dump", "mysqldump"), find_binary("mariadb", "mysql")
        pipe = (
            f"{dump} {auth} -P{self.source.port} --single-transaction --quick --skip-lock-tables {SCHEMA} "
            f"{' '.join(self.tables)} | {client} {auth} -P{self.target.port} {schema}"
        )
        self.load_sample()
        seconds, cpu, _ = timed(pipe, shell=True)
        self.load_sample()
        self.results["mysqldump_mysql"] = self.figures("mysqldump | mysql", seconds, cpu, schema)

    def run_mydumper(self) -> None:
        """mydumper dumps every table of the schema (its --tables-list dumps none in 0.10), which are ours."""
        schema = f"{SCHEMA}_myd"
        out = self.base / "mydumper"
        threads = str(self.args.mydumper_threads)
        common = ["-h", "127.0.0.1", "-u", OTTER_USER, "-p", OTTER_PASSWORD, "--threads", threads]
        self.target.execute(f"CREATE DATABASE {schema}")
        self.load_sample()
        dump_s, dump_cpu, _ = timed(
            [
                "mydumper",
                *common,
                "-P",
                str(self.source.port),
                "--database",
                SCHEMA,
                "--trx-consistency-only",
                "--rows",
                str(self.args.mydumper_rows),
                "--outputdir",
                str(out),
            ]
        )
        load_s, load_cpu, _ = timed(
            [
                "myloader",
                *common,
                "-P",
                str(self.target.port),
                "--directory",
                str(out),
                "--source-db",
                SCHEMA,
                "--database",
                schema,
            ]
        )
        self.load_sample()
        self.results["mydumper_myloader"] = self.figures(
            "mydumper + myloader",
            dump_s + load_s,
            dump_cpu + load_cpu,
            schema,
            dump_seconds=round(dump_s, 2),
            load_seconds=round(load_s, 2),
            threads=self.args.mydumper_threads,
        )

    def run(self) -> dict:
        self.results["loadavg_at_start"] = os.getloadavg()
        self.prepare()
        self.run_otter()
        if self.args.skip_peers:
            return self.results
        self.run_mysqldump()
        self.run_mydumper()
        otter_rate = self.results["otter_load"]["rows_per_s"]
        for peer in ("mysqldump_mysql", "mydumper_myloader"):
            self.results[f"ratio_{peer}"] = round(otter_rate / self.results[peer]["rows_per_s"], 3)
        self.results["loadavg_at_end"] = os.getloadavg()
        return self.results


def print_report(results: dict) -> None:
    print()
    print(
        f"initial load — {results.get('rows', 0):,} rows ({results.get('source_data_mb')} MB) in "
        f"{len(results.get('tables', {}))} tables {results.get('tables')}"
    )
    print(f"load average at start {results.get('loadavg_at_start')}, at end {results.get('loadavg_at_end')}")
    print(
        f"{'tool':<26} {'seconds':>8} {'rows/s':>9} {'MB/s':>7} {'client CPU s':>13} {'src/tgt CPU s':>14} "
        f"{'otter ÷':>8}  load  verified"
    )
    for key, label in (
        ("otter_load", "otter-run load"),
        ("mysqldump_mysql", "mysqldump | mysql"),
        ("mydumper_myloader", "mydumper + myloader (4 thr)"),
    ):
        fig = results.get(key)
        if not fig:
            continue
        ratio = results.get(f"ratio_{key}")
        print(
            f"{label:<26} {fig['seconds']:>8.2f} {fig['rows_per_s']:>9,} {fig['mb_per_s']:>7.1f} "
            f"{fig['client_cpu_s']:>13.1f} {fig['source_cpu_s']:>6.1f}/{fig['target_cpu_s']:<7.1f} "
            f"{(f'{ratio:.2f}x' if ratio else ''):>8}  {fig['loadavg']:>4.1f}  "
            f"{fig['verified']}"
        )
    print_problems(results)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="100000 rows and 1000 BLOB rows")
    ap.add_argument("--rows", type=int, default=1_000_000, help="rows of the four load_scenario tables")
    ap.add_argument("--blob-rows", type=int, default=5000, help="rows of the BLOB table")
    ap.add_argument("--blob-kb", type=int, default=8, help="KB of random bytes in each BLOB")
    ap.add_argument("--mydumper-threads", type=int, default=4)
    ap.add_argument("--mydumper-rows", type=int, default=100_000, help="mydumper's --rows (chunk size)")
    ap.add_argument(
        "--param",
        action="append",
        type=lambda text: (text.split("=", 1)[0], yaml.safe_load(text.split("=", 1)[1])),
        metavar="NAME=VALUE",
        help="an otter pipeline parameter instead of its default, its value as YAML (repeatable)",
    )
    ap.add_argument("--buffer-pool", default="1G", help="innodb_buffer_pool_size of each server")
    ap.add_argument("--json", help="also write the results to this file")
    ap.add_argument("--profile", metavar="DIR", help="record otter-run load with py-spy into DIR")
    ap.add_argument("--chunk-rows", type=int, help="otter-run load --chunk-rows (default: otter's)")
    ap.add_argument("--skip-peers", action="store_true", help="measure otter only (profiling)")
    args = ap.parse_args()
    missing = [tool for tool in ("mydumper", "myloader") if shutil.which(tool) is None]
    if missing:
        print(
            f"initial_load: {' and '.join(missing)} not installed: apt-get install mydumper", file=sys.stderr
        )
        return 2
    if args.quick:
        args.rows, args.blob_rows = 100_000, 1000
    base = Path(tempfile.mkdtemp(prefix="otter-bench-initial-"))
    bench = InitialLoad(args, base)
    results = bench.results
    results.update(when=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), command=" ".join(sys.argv))
    try:
        bench.run()
    except Exception as exc:  # report, then clean up
        results["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        bench.source.destroy()
        bench.target.destroy()
        shutil.rmtree(base, ignore_errors=True)
    print_report(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str) + "\n")
    return 1 if results.get("error") or results["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())

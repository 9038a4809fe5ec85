"""Initial load and verify, beside ``mysqldump | mysql`` on the same data in the same run; then the 1M-row proof.

    python bench/load_verify.py [--rows 1000000] [--chunk-rows 10000] [--no-scenario] [--json out.json]

Starts two throwaway MariaDB servers and fills four tables (``otter_core.testing.load_scenario``) with
``--rows`` rows on the source, then measures, each on an empty target:

1. ``otter-run load FILE --exit-when-done`` (no writes meanwhile): wall time, rows/s, CPU seconds of otter
   (the process and its selector child);
2. ``otter-run verify FILE`` over the loaded tables (equal: the checksum path): rows/s, CPU seconds;
3. ``mariadb-dump --single-transaction --quick | mariadb`` of the same schema into another database of the
   target server: rows/s, CPU seconds of the two clients;
4. ``CHECKSUM TABLE`` of every table on both servers (the server-side reference for verify).

Then, unless ``--no-scenario``, the proof of issue 8 on the same row count: continuous writes, ``otter-run
load`` killed with SIGKILL twice and restarted, verify (live, then after catch-up) must report 0
differences, 15 rows corrupted on the target, ``verify --repair`` must find and fix exactly those.
CPU seconds are user+sys of the measured child processes (``RUSAGE_CHILDREN``), not of the servers.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from otter_core.testing.harness import pipeline_yaml
from otter_core.testing.load_scenario import SCHEMA, TABLES, LoadScenario, create_tables
from otter_core.testing.mariadb import OTTER_PASSWORD, OTTER_USER, MariaDBServer


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str] | str, shell: bool = False) -> tuple[float, float, subprocess.CompletedProcess]:
    cpu, started = children_cpu(), time.monotonic()
    done = subprocess.run(command, shell=shell, capture_output=True, text=True)
    seconds = time.monotonic() - started
    if done.returncode not in (0, 1):
        raise RuntimeError(f"{command} failed ({done.returncode}): {done.stderr[-3000:]}")
    return seconds, children_cpu() - cpu, done


def otter(*args: str) -> list[str]:
    return [sys.executable, "-m", "otter_core.cli", "--log-level", "WARNING", *args]


def measure(source: MariaDBServer, target: MariaDBServer, work: Path, rows: int, chunk_rows: int) -> dict:
    counts = create_tables(source, target, rows)
    total = sum(counts.values())
    log(f"source filled: {counts}")
    config = work / "bench.yaml"
    config.write_text(
        yaml.safe_dump(
            yaml.safe_load(
                pipeline_yaml(
                    source,
                    target,
                    [{"source": f"{SCHEMA}.*", "target": f"{SCHEMA}.*"}],
                    channel="bench",
                    batch_size=5000,
                    parallelism=4,
                    load_pool_size=4,
                )
            )
        )
    )
    out: dict = {"rows": total}

    seconds, cpu, _ = timed(
        otter(
            "load",
            str(config),
            "--state-dir",
            str(work / "state"),
            "--exit-when-done",
            "--quiet",
            "--chunk-rows",
            str(chunk_rows),
        )
    )
    state = json.loads((work / "state" / "bench" / "src-to-dst.snapshot.json").read_text())
    loaded = sum(v["rows"] for v in state["confirmed"].values())
    out["otter_load"] = {
        "seconds": round(seconds, 2),
        "rows_per_s": round(loaded / seconds),
        "cpu_s": round(cpu, 1),
        "load_only_seconds": round(state["finished_at"] - state["started_at"], 2),
        "rows": loaded,
    }
    log(f"otter-run load: {out['otter_load']}")

    seconds, cpu, done = timed(otter("verify", str(config), "--state-dir", str(work / "state"), "--json"))
    summary = json.loads(done.stdout)["summary"]
    out["otter_verify"] = {
        "seconds": round(seconds, 2),
        "rows_per_s": round(summary["rows"] / seconds),
        "cpu_s": round(cpu, 1),
        "differences": summary["differences"],
        "exit": done.returncode,
    }
    log(f"otter-run verify: {out['otter_verify']}")

    target.execute(f"DROP DATABASE IF EXISTS {SCHEMA}_dump", f"CREATE DATABASE {SCHEMA}_dump")
    auth = f"-h127.0.0.1 -u{OTTER_USER} -p{OTTER_PASSWORD}"
    pipe = (
        f"mariadb-dump {auth} -P{source.port} --single-transaction --quick --skip-lock-tables {SCHEMA} "
        f"| mariadb {auth} -P{target.port} {SCHEMA}_dump"
    )
    seconds, cpu, _ = timed(pipe, shell=True)
    dumped = sum(target.execute(f"SELECT COUNT(*) FROM {SCHEMA}_dump.{t}")[0][0] for t in TABLES)
    out["mysqldump_mysql"] = {
        "seconds": round(seconds, 2),
        "rows_per_s": round(dumped / seconds),
        "cpu_s": round(cpu, 1),
        "rows": dumped,
    }
    log(f"mysqldump | mysql: {out['mysqldump_mysql']}")

    started = time.monotonic()
    tables = ", ".join(f"{SCHEMA}.{t}" for t in TABLES)
    sums = [server.execute(f"CHECKSUM TABLE {tables}") for server in (source, target)]
    seconds = time.monotonic() - started
    out["checksum_table"] = {
        "seconds": round(seconds, 2),
        "rows_per_s": round(total / seconds),
        "equal": [r[1] for r in sums[0]] == [r[1] for r in sums[1]],
    }
    log(f"CHECKSUM TABLE on both servers: {out['checksum_table']}")
    target.execute(f"DROP DATABASE {SCHEMA}_dump")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--chunk-rows", type=int, default=10_000)
    parser.add_argument("--no-scenario", action="store_true", help="only the figures, not the kill -9 proof")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="otter-bench-load-"))
    source = MariaDBServer(base / "source", server_id=31, innodb_buffer_pool_size="1G")
    target = MariaDBServer(base / "target", server_id=32, innodb_buffer_pool_size="1G")
    results: dict = {"when": time.strftime("%Y-%m-%d %H:%M"), "rows_requested": args.rows}
    try:
        source.start()
        target.start()
        (base / "figures").mkdir()
        results["figures"] = measure(source, target, base / "figures", args.rows, args.chunk_rows)
        if not args.no_scenario:
            (base / "scenario").mkdir()
            log("scenario: continuous writes, otter-run load killed twice, verify, corrupt, verify --repair")
            scenario = LoadScenario(
                source, target, base / "scenario", args.rows, chunk_rows=args.chunk_rows, log=log
            )
            results["scenario"] = scenario.run()
    finally:
        source.destroy()
        target.destroy()
    print(json.dumps(results, indent=1, default=str))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str))
    figures = results["figures"]
    print(
        f"\nrows {figures['rows']:,}: otter load {figures['otter_load']['rows_per_s']:,} rows/s "
        f"({figures['otter_load']['cpu_s']} CPU-s), mysqldump|mysql {figures['mysqldump_mysql']['rows_per_s']:,} rows/s "
        f"({figures['mysqldump_mysql']['cpu_s']} CPU-s), ratio {figures['otter_load']['rows_per_s'] / figures['mysqldump_mysql']['rows_per_s']:.2f}; "
        f"otter verify {figures['otter_verify']['rows_per_s']:,} rows/s, CHECKSUM TABLE both sides "
        f"{figures['checksum_table']['rows_per_s']:,} rows/s"
    )
    scenario = results.get("scenario")
    if scenario:
        ok = (
            scenario["verify_after_load"]["differences"] == 0
            and scenario["verify_corrupt"]["found"] == scenario["corrupted"]
            and scenario["verify_repair"]["repaired"] == 15
            and scenario["verify_final"]["differences"] == 0
        )
        print(
            f"scenario {scenario['rows']:,} rows: killed at {scenario['killed_at_rows']} confirmed rows, load "
            f"{scenario['load_state']} in {scenario['load_seconds']} s, verify live {scenario['verify_live']['differences']} "
            f"/ after catch-up {scenario['verify_after_load']['differences']} differences, corrupted "
            f"{scenario['corrupted']}, found {scenario['verify_corrupt']['found']}, repaired "
            f"{scenario['verify_repair']['repaired']}, final {scenario['verify_final']['differences']}: "
            f"{'PASS' if ok else 'FAIL'}"
        )
        return 0 if ok else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

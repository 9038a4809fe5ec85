"""File sync benchmark: rows that point to files, synced one-way, beside rsync in the same run.

    python bench/filesync.py [--rows 2000] [--max-size 5242880] [--pipes memory,rpc] [--json out.json]

Starts two throwaway MariaDB servers, writes ``--rows`` files of mixed sizes (90 % 1–48 KB, 8 % 48 KB–1 MB,
2 % 1 MB–``--max-size``; random bytes, as images do not compress) and one row per file, then for each pipe:
a first run (every file copied; bytes/s and files/s from the start of the runner until the target acked
the binlog end, rows included) and a second run over the same rows (fresh state: every row is re-read, no
file should be transferred). Baseline in the same run: ``rsync -a`` of the same tree (first copy, then a
no-op second run), and ``cp -a``. CPU seconds are this process's (the runner runs in it) plus its children.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from otter_core.config import load_config_text
from otter_core.runner import Runner
from otter_core.testing.files import SCHEMA, TABLE_DDL, file_sync_yaml, insert_rows, tree_digest, write_files
from otter_core.testing.mariadb import MariaDBServer


def cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def caught_up(runner: Runner, source: MariaDBServer, timeout: float) -> None:
    file, pos = source.binlog_position()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if runner.failures():
            raise RuntimeError(f"pipeline failed: {runner.failures()[0][1]}")
        position = runner.pipelines[0].stats.position
        if position is not None and (position.file, position.pos) >= (file, pos):
            return
        time.sleep(0.02)
    raise RuntimeError(f"not caught up after {timeout}s: {runner.status()}")


def run_once(config: str, state: Path, source: MariaDBServer) -> dict:
    started, cpu0 = time.perf_counter(), cpu()
    runner = Runner(load_config_text(config), str(state)).start()
    try:
        caught_up(runner, source, timeout=1800)
        seconds = time.perf_counter() - started
        stats = runner.pipelines[0].file_stats
        return {
            "seconds": seconds,
            "cpu": cpu() - cpu0,
            "copied": stats.copied,
            "skipped": stats.skipped,
            "bytes": stats.bytes,
        }
    finally:
        runner.stop()
        runner.join(timeout=60)


def timed(command: list[str]) -> dict:
    started, cpu0 = time.perf_counter(), cpu()
    subprocess.run(command, check=True)
    return {"seconds": time.perf_counter() - started, "cpu": cpu() - cpu0}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--max-size", type=int, default=5 * 1024 * 1024)
    parser.add_argument("--pipes", default="memory,rpc")
    parser.add_argument("--file-load-pool-size", type=int, default=8)
    parser.add_argument("--json")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="otter-bench-files-"))
    source = MariaDBServer(work / "source", server_id=1, log_bin=True)
    target = MariaDBServer(work / "target", server_id=2, log_bin=False)
    results: dict = {"rows": args.rows, "command": " ".join(["filesync.py"] + sys.argv[1:])}
    try:
        for server in (source, target):
            server.start()
            server.execute(f"CREATE DATABASE {SCHEMA}", TABLE_DDL)
        file, pos = source.binlog_position()
        src = work / "src"
        total = write_files(src, range(args.rows), max_size=args.max_size)
        insert_rows(source, range(args.rows))
        results["files"], results["MB"] = args.rows, round(total / 1e6, 1)
        print(f"{args.rows} files, {total / 1e6:.1f} MB", file=sys.stderr)
        for tool, first_cmd in (
            ("rsync -a", ["rsync", "-a", f"{src}/", f"{work}/rsync/"]),
            ("cp -a", ["cp", "-a", f"{src}/.", f"{work}/cp"]),
        ):
            os.sync()
            first = timed(first_cmd)
            second = timed(first_cmd) if tool.startswith("rsync") else None
            results[tool] = {"first": first, "second": second}
            print(tool, results[tool], file=sys.stderr)
        for pipe in args.pipes.split(","):
            dst = work / f"dst-{pipe}"
            target.execute(f"TRUNCATE {SCHEMA}.product")
            config = file_sync_yaml(
                source,
                target,
                src,
                dst,
                {"file": file, "pos": pos},
                pipe=pipe,
                file_load_pool_size=args.file_load_pool_size,
            )
            os.sync()
            first = run_once(config, work / f"state-{pipe}-1", source)
            second = run_once(config, work / f"state-{pipe}-2", source)
            equal = tree_digest(dst) == tree_digest(src)
            results[f"otter {pipe}"] = {"first": first, "second": second, "equal": equal}
            print(pipe, results[f"otter {pipe}"], file=sys.stderr)
    finally:
        for server in (source, target):
            server.stop()
        shutil.rmtree(work, ignore_errors=True)
    mb, files = total / 1e6, args.rows
    lines = [
        "| run | first: s | MB/s | files/s | CPU s | second run: s | files sent | target equal |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        if not isinstance(r, dict) or "first" not in r:
            continue
        first, second = r["first"], r["second"]
        head = (
            f"| {name} | {first['seconds']:.2f} | {mb / first['seconds']:.1f} | {files / first['seconds']:.0f} | "
            f"{first['cpu']:.1f} |"
        )
        if not second:
            lines.append(f"{head} – | – | n/a |")
            continue
        sent = f"{second['copied']} ({second['bytes']} B)" if "copied" in second else "0"
        lines.append(f"{head} {second['seconds']:.2f} | {sent} | {r.get('equal', 'n/a')} |")
    print("\n".join(lines))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())

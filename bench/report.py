"""Percentiles, machine facts and the printed reports of the one-way and the OLTP catch-up benchmarks."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def _pct(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    k = max(0, min(len(sorted_values) - 1, round(p / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[k]


def machine_info() -> dict:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu,
        "memory_mb": mem_mb,
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def print_report(results: dict, params: dict) -> None:
    print()
    print(
        f"otter one-way benchmark — {results.get('rows')} rows per workload; MariaDB "
        f"{results.get('mariadb_version', '?')}; {results['machine']['cpus']} CPUs"
    )
    print("otter parameters: " + ", ".join(f"{k}={v}" for k, v in params.items()))
    if "loadavg_at_start" in results:
        print(
            "load average at start: "
            + " ".join(f"{v:.2f}" for v in results["loadavg_at_start"])
            + (
                "; at end: " + " ".join(f"{v:.2f}" for v in results["loadavg_at_end"])
                if "loadavg_at_end" in results
                else ""
            )
        )
    print()
    head = (
        "workload",
        "otter rows/s",
        "native rows/s",
        "ratio",
        "otter CPU s/100k rows",
        "native CPU s/100k rows",
        "otter peak RSS MB",
    )
    rows = [head]
    for name, res in results["throughput"].items():
        if "otter_rows_per_s" not in res:
            native = f"{res['native_rows_per_s']:,}" if "native_rows_per_s" in res else "-"
            rows.append((name, "failed" if "otter_error" in res else "-", native, "-", "-", "-", "-"))
            continue
        rows.append(
            (
                name,
                f"{res['otter_rows_per_s']:,}",
                f"{res.get('native_rows_per_s', 0):,}",
                f"{res.get('ratio', 0):.3f}",
                f"{res['otter_cpu_s_per_100k']:.2f}",
                f"{res.get('native_cpu_s_per_100k', 0):.2f}",
                f"{res['otter_peak_rss_mb']:.0f}",
            )
        )
    widths = [max(len(str(r[c])) for r in rows) for c in range(len(head))]
    for n, r in enumerate(rows):
        print(
            "| "
            + " | ".join(
                str(v).ljust(widths[c]) if c == 0 else str(v).rjust(widths[c]) for c, v in enumerate(r)
            )
            + " |"
        )
        if n == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    if results["throughput"]:
        print()
        for name, res in results["throughput"].items():
            if "otter_s" in res:
                steady = res.get("otter_steady_rows_per_s")
                print(
                    f"  {name}: otter {res['otter_s']:.2f}s from process start (first batch acked at "
                    f"{res['otter_first_ack_s']:.2f}s; {f'{steady:,}' if steady else '?'} rows/s after startup), "
                    f"native {res.get('native_s', float('nan')):.2f}s; verified otter={res.get('otter_verified')} "
                    f"native={res.get('native_verified')}; CPU s of the applying mariadbd: "
                    f"otter's target {res.get('otter_server_cpu_s', {}).get('target', '?')}, "
                    f"replica {res.get('native_server_cpu_s', {}).get('replica', '?')}; CPU s used by other "
                    f"processes on the machine meanwhile: {res.get('otter_server_cpu_s', {}).get('other_processes', '?')}"
                    f" / {res.get('native_server_cpu_s', {}).get('other_processes', '?')}"
                )
    lat = results.get("latency") or {}
    if lat:
        print()
        print("single-row latency (commit on source -> row visible on target), ms:")
        for kind in ("otter", "native"):
            e = lat.get(kind, {})
            if e.get("samples"):
                print(
                    f"  {kind:<6} p50 {e['p50_ms']:7.2f}  p90 {e['p90_ms']:7.2f}  p99 {e['p99_ms']:7.2f}  "
                    f"max {e['max_ms']:7.2f}  ({e['samples']} samples, {e['lost']} lost)"
                )
    blob = results.get("blob")
    if blob and "otter_peak_rss_mb" in blob:
        print()
        print(
            f"memory: {blob['rows']} rows of {blob['blob_mb']:g} MB BLOB, batch_size={blob['batch_size']}, "
            f"batch_bytes={blob['batch_bytes']}, memory_limit_bytes={blob['memory_limit_bytes']}: otter peak RSS "
            f"{blob['otter_peak_rss_mb']:.0f} MB ({blob['otter_s']}s, verified={blob['otter_verified']}); "
            f"native {blob.get('native_s', '?')}s"
        )
    if lat.get("background", {}).get("rows"):
        bg = lat["background"]
        print(
            f"  (latency measured under {bg['rows_per_s']:,} rows/s of background writes, "
            f"{bg['late_txns']} late transactions)"
        )
    if results.get("problems"):
        print()
        print("problems:")
        for p in results["problems"]:
            print("  - " + p)
    if results.get("error"):
        print()
        print("ERROR: " + results["error"])


def variant_name(variant: dict[str, int]) -> str:
    """A parameter sweep point's label: ``batch_size=8000,load_pool_size=2`` or ``default``."""
    return ",".join(f"{k}={v}" for k, v in variant.items()) or "default"


def print_catchup_report(results: dict) -> None:
    print()
    print(
        f"OLTP catch-up — MariaDB {results.get('mariadb_version', '?')}, {results['machine']['cpus']} CPUs, "
        f"load average at start {results.get('loadavg_at_start')}, at end {results.get('loadavg_at_end')}"
    )
    print(f"command: {results['command']}; otter parameters: {results.get('otter_parameters')}")
    header = f"{'workload':<16} {'consumer':<26} {'seconds':>8} {'rows/s':>9} {'tx/s':>8} {'otter ÷':>8}  load avg  ok"
    print(header)
    for name, res in results["workloads"].items():
        if "rows" in res:
            print(f"{name:<16} backlog: {res['transactions']:,} tx, {res['rows']:,} row changes")
        otters = [k for k in res if k == "otter" or (k.startswith("otter_") and isinstance(res[k], dict))]
        for key, label in (
            *(
                (
                    k,
                    f"otter ({variant_name(res[k]['parameters'])})"
                    if k != "otter" and res[k].get("binlog_reader") == "default"
                    else f"otter ({res[k].get('binlog_reader', 'default')} reader)"
                    if k != "otter" or len(otters) > 1
                    else "otter (default params)"
                    if not results.get("otter_parameters_changed")
                    else "otter (--param)",
                )
                for k in otters
            ),
            ("native_single", "native, single-threaded"),
            ("native_parallel", "native, 4 threads optimistic"),
        ):
            fig = res.get(key)
            if not fig:
                continue
            if key == "otter" and len(otters) > 1:
                ratio = res.get("ratio_native_single")  # otter lines: ÷ the single-threaded replica
            else:
                ratio = res.get(f"ratio_{key}") or res.get(f"ratio_native_single_{key}")
            load = fig["loadavg"]
            print(
                f"{'':<16} {label:<26} {fig['seconds']:>8.2f} {fig['rows_per_s']:>9,} {fig['tx_per_s']:>8,} "
                f"{(f'{ratio:.2f}x' if ratio else ''):>8}  {load['min']:.1f}-{load['max']:.1f}  {fig['verified']}"
            )
        for key in otters:
            fig = res[key]
            native = [res.get(k, {}).get("replica_cpu_s") for k in ("native_single", "native_parallel")]
            print(
                f"{'':<16} {key}: peak RSS {fig['peak_rss_mb']:.0f} MB, CPU {fig['cpu_s']} s "
                f"({fig.get('us_per_tx')} us/tx, selector process {fig.get('selector_cpu_s')} s = "
                f"{fig.get('selector_us_per_tx')} us/tx); target mariadbd CPU {fig.get('target_cpu_s')} s "
                f"(native replica's: {native[0]} s single, {native[1]} s parallel)"
            )
            if fig.get("target_busy") is not None:
                print(
                    f"{'':<16} target mariadbd threads per second of the catch-up: on a CPU "
                    f"{fig['target_busy']:.2f} s, runnable waiting for a core {fig['target_waiting_for_cpu']:.2f} s"
                )
            if fig.get("runner_cpu_s") is not None and res.get("transactions"):
                per_tx = 1e6 / res["transactions"]
                print(
                    f"{'':<16} otter CPU per transaction: {fig['cpu_s'] * per_tx:.0f} us, of which otter-run "
                    f"(the runner) {fig['runner_cpu_s'] * per_tx:.0f} us, its selector process the rest"
                )
    print_problems(results)


def print_problems(results: dict) -> None:
    """The problems a run noted and its error, last in a benchmark's report."""
    for problem in results["problems"]:
        print(f"PROBLEM: {problem}")
    if results.get("error"):
        print(f"ERROR: {results['error']}")

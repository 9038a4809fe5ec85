"""The memory phase: rows with 16 MB BLOBs, loaded with a huge batch size, under otter's memory guard.

``--blob-rows`` rows (one transaction each, ``--blob-mb`` MB of BLOB) are written to the source while
both consumers are stopped; then otter-run loads them with ``batch_size`` = ``--blob-batch-size`` and
``batch_bytes`` = 1 GiB, so that only the memory guard (``memory_limit_bytes``) can keep its memory
bounded; then the native replica applies them. Reported: otter's peak RSS (sum over its processes), its
time and the replica's, and whether both targets equal the source.
"""

from __future__ import annotations

import time
from typing import Any

from procstat import log
from workloads import checksum, gen_blobs


def run_blob_phase(bench: Any) -> None:
    args = bench.args
    if args.blob_rows <= 0 or args.native_only:
        return
    size = int(args.blob_mb * 1024 * 1024)
    start = bench.source.binlog_position()
    conn = bench.source.root_connect()
    gen_blobs(conn, args.blob_rows, size)
    conn.close()
    end = bench.source.binlog_position()
    expected = checksum(bench.source, "blobs")
    params = {"batch_size": args.blob_batch_size, "batch_bytes": 1 << 30}
    log(f"blob: {args.blob_rows} rows of {args.blob_mb:g} MB written; otter-run with {params}")
    otter = bench.start_otter("blob", start, **params)
    res: dict[str, Any] = {
        "rows": args.blob_rows,
        "blob_mb": args.blob_mb,
        **params,
        "memory_limit_bytes": bench.params.get("memory_limit_bytes", "default"),
    }
    bench.results["blob"] = res
    try:
        waited = bench.otter_wait(
            otter, end, args.phase_timeout, data_done=lambda: checksum(bench.target, "blobs") == expected
        )
    finally:
        meter = otter.meter
        otter.stop()
    res.update(
        {
            "otter_s": round(waited["seconds"], 2),
            "otter_peak_rss_mb": round(meter.peak_rss_mb, 1),
            "otter_cpu_s": round(meter.cpu_seconds, 2),
            "otter_processes": meter.breakdown(),
            "otter_verified": checksum(bench.target, "blobs") == expected,
        }
    )
    bench.replica_change_master(start)
    t0 = time.perf_counter()
    bench.replica.root_execute("START SLAVE")
    bench.replica_wait(end, args.phase_timeout)
    res["native_s"] = round(time.perf_counter() - t0, 2)
    bench.replica.root_execute("STOP SLAVE")
    res["native_verified"] = checksum(bench.replica, "blobs") == expected
    if not (res["otter_verified"] and res["native_verified"]):
        bench.results["problems"].append(f"blob: a target differs from the source ({res})")
    log(
        f"blob: otter {res['otter_s']}s, peak RSS {res['otter_peak_rss_mb']:.0f} MB, verified={res['otter_verified']}; "
        f"native {res['native_s']}s"
    )

"""Cross-data-centre benchmark (root): two "data centres" in network namespaces joined by an emulated WAN.

    sudo .venv/bin/python bench/crossdc.py [--delay-ms 100] [--rate-mbit 32] [--quick] [--json out.json]

What it builds (and removes again, also on error or Ctrl-C):

    otter-dc1 (198.18.0.1) ──veth── otter-wan ──veth── otter-dc2 (198.18.0.2)

198.18.0.0/15 is the range reserved for network benchmarks (RFC 2544); nothing leaves the machine.
Each data centre's interface sends through ``tc htb`` at ``--rate-mbit`` (32 Mbit/s = 4 MB/s), and
``otter-wan`` runs ``bench/wan.py``, a bridge that holds every frame ``--delay-ms`` each way (this machine's
kernel has no ``sch_netem``; see docs/benchmarks.md). The round trip is measured before the runs.

Then, with the sending side in otter-dc1 and the receiving side in otter-dc2:

1. ``bench/pipes.py`` measures the rpc and file pipes (batches/s, MB/s, latency of a get) beside raw TCP
   over the same WAN;
2. ``bench/crossdc_nodes.py`` deploys a real split pipeline: ZooKeeper, the source MariaDB and node 1
   (Select/Extract) in otter-dc1, the target MariaDB and node 2 (Transform/Load) in otter-dc2, the rpc pipe
   between them (``otter-run deploy --select 1 --load 2 --arbitrate zookeeper``, or ``rpc`` with
   ``--arbitrate rpc``: the ready signals then go node to node over gRPC), and measures rows/s of a
   bulk load (``--rows`` rows in 1000-row transactions) and the end-to-end latency of single rows
   (p50/p99 of ``--samples``; each row carries its commit time, read back on the dc2 side).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DC1, DC2, WAN = "otter-dc1", "otter-dc2", "otter-wan"
ADDRESSES = {DC1: "198.18.0.1", DC2: "198.18.0.2"}
LINKS = {DC1: ("otter-dc1-eth", "otter-wan-1"), DC2: ("otter-dc2-eth", "otter-wan-2")}


def sh(*command: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(command, check=check, capture_output=True, text=True)


def in_ns(namespace: str, *command: str, check: bool = True) -> subprocess.CompletedProcess:
    return sh("ip", "netns", "exec", namespace, *command, check=check)


def teardown() -> None:
    for namespace in (DC1, DC2, WAN):
        sh("ip", "netns", "del", namespace, check=False)  # deleting a namespace removes its veth ends


def setup(delay_ms: float, rate_mbit: float) -> subprocess.Popen:
    teardown()
    for namespace in (DC1, DC2, WAN):
        sh("ip", "netns", "add", namespace)
        in_ns(namespace, "ip", "link", "set", "lo", "up")
    for dc, (inside, wan_end) in LINKS.items():
        sh("ip", "link", "add", inside, "type", "veth", "peer", "name", wan_end)
        sh("ip", "link", "set", inside, "netns", dc)
        sh("ip", "link", "set", wan_end, "netns", WAN)
        in_ns(dc, "ip", "addr", "add", f"{ADDRESSES[dc]}/24", "dev", inside)
        in_ns(dc, "ip", "link", "set", inside, "up")
        in_ns(WAN, "ip", "link", "set", wan_end, "up")
        if rate_mbit > 0:
            in_ns(dc, "tc", "qdisc", "add", "dev", inside, "root", "handle", "1:", "htb", "default", "10")
            in_ns(
                dc,
                "tc",
                "class",
                "add",
                "dev",
                inside,
                "parent",
                "1:",
                "classid",
                "1:10",
                "htb",
                "rate",
                f"{rate_mbit}mbit",
                "ceil",
                f"{rate_mbit}mbit",
            )
    wan = subprocess.Popen(
        [
            "ip",
            "netns",
            "exec",
            WAN,
            sys.executable,
            str(HERE / "wan.py"),
            "--ports",
            f"{LINKS[DC1][1]},{LINKS[DC2][1]}",
            "--delay-ms",
            str(delay_ms),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert wan.stdout.readline().strip() == "ready"
    return wan


RTT_PROBE = """
import socket, sys, time
server = socket.create_server(("198.18.0.2", 5999)) if sys.argv[1] == "server" else None
if server:
    for _ in range(5):
        conn, _ = server.accept(); conn.close()
else:
    times = []
    for _ in range(5):
        started = time.perf_counter(); socket.create_connection(("198.18.0.2", 5999), timeout=10).close()
        times.append((time.perf_counter() - started) * 1000)
    print(min(times))
"""


def measure_rtt() -> float:
    server = subprocess.Popen(["ip", "netns", "exec", DC2, sys.executable, "-c", RTT_PROBE, "server"])
    time.sleep(0.5)
    try:
        return float(in_ns(DC1, sys.executable, "-c", RTT_PROBE, "client").stdout)
    finally:
        server.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--delay-ms", type=float, default=100.0)
    parser.add_argument("--rate-mbit", type=float, default=32.0)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--skip-pipes", action="store_true", help="only the node deployment")
    parser.add_argument("--skip-nodes", action="store_true", help="only the pipes")
    parser.add_argument(
        "--rows", type=int, default=50_000, help="rows of the throughput run (1000-row transactions)"
    )
    parser.add_argument("--samples", type=int, default=100, help="single-row latency samples")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between two latency samples")
    parser.add_argument("--keep-logs", help="copy the node logs here")
    parser.add_argument(
        "--zk-in-dc2",
        action="store_true",
        help="run ZooKeeper beside the Load node (default: beside the source, in dc1)",
    )
    parser.add_argument(
        "--arbitrate",
        choices=["zookeeper", "rpc"],
        default="zookeeper",
        help="how S/E signals ready batches to T/L: ready/ znodes in ZooKeeper, or gRPC node to node",
    )
    parser.add_argument("--json")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("crossdc.py needs root (ip netns, tc)", file=sys.stderr)
        return 2
    results: dict = {"delay_ms_each_way": args.delay_ms, "rate_mbit": args.rate_mbit}
    wan = None
    try:
        wan = setup(args.delay_ms, args.rate_mbit)
        results["tcp_connect_rtt_ms"] = round(measure_rtt(), 1)
        print(f"WAN up: TCP connect round trip {results['tcp_connect_rtt_ms']} ms", file=sys.stderr)
        if not args.skip_pipes:
            command = [
                sys.executable,
                str(HERE / "pipes.py"),
                "--sender-ns",
                DC1,
                "--receiver-ns",
                DC2,
                "--sender-host",
                ADDRESSES[DC1],
                "--json",
                "/tmp/otter-crossdc-pipes.json",
            ]
            subprocess.run(command + (["--quick"] if args.quick else []), check=True)
            results["pipes"] = json.loads(Path("/tmp/otter-crossdc-pipes.json").read_text())["results"]
        if not args.skip_nodes:
            from crossdc_nodes import run_nodes

            results["nodes"] = run_nodes(
                DC1,
                DC2,
                ADDRESSES[DC1],
                ADDRESSES[DC2],
                args.rows,
                args.samples,
                Path(args.keep_logs) if args.keep_logs else None,
                args.interval,
                args.zk_in_dc2,
                args.arbitrate,
            )
            print(json.dumps(results["nodes"]), file=sys.stderr)
    finally:
        if wan is not None:
            wan.send_signal(signal.SIGTERM)
            try:
                results["wan"] = json.loads(wan.communicate(timeout=10)[0].strip().splitlines()[-1])
            except (subprocess.TimeoutExpired, ValueError, IndexError):
                wan.kill()
        teardown()
    print(json.dumps(results, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

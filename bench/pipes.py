"""Pipe benchmark: batches/s and MB/s of the rpc and file pipes, small and big batches, beside baselines.

    python bench/pipes.py [--json out.json] [--parallelism 5] [--quick]
    # across network namespaces (set up by bench/crossdc.py, root):
    python bench/pipes.py --sender-ns otter-dc1 --receiver-ns otter-dc2 --sender-host 198.18.0.1

The sender and the receiver are separate processes (as on two nodes), optionally in network namespaces.
The sender encodes and stores every batch of a scenario (``put``) and hands the keys over; the receiver
then takes them (``get``) with ``--parallelism`` threads, like the Load side of a pipeline with that many
batches in flight. Reported per scenario: batches/s and MB/s (of encoded batch bytes) of the receiving
phase, latency of one ``get``, CPU seconds of each side, and baselines measured in the same run: the CPU
seconds of the codec alone (msgpack encode + decode of every batch of the scenario) beside pickle
(dumps + loads, highest protocol) on the same batches, and raw TCP (bytes over one plain socket between the
same two processes/namespaces: the ceiling the network gives).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import resource
import secrets
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
SCENARIOS = [  # name, pipe, events per batch, bytes of text per event, batches, threshold
    ("small rpc (50 rows, ~8 KB)", "rpc", 50, 60, 400, 128 * 1024),
    ("medium (1000 rows, ~170 KB: above 128 KiB, file pipe)", "rpc", 1000, 60, 60, 128 * 1024),
    ("big via file pipe (4000 rows, ~1.45 MB)", "rpc", 4000, 250, 20, 128 * 1024),
    ("big forced into one rpc call (4000 rows, ~1.45 MB)", "rpc", 4000, 250, 20, 64 << 20),
    ("big file pipe, random payload (4000 rows, ~1.45 MB)", "file", 4000, -250, 20, 0),
]


def make_batch(events: int, width: int, seed: int) -> list:
    import decimal

    from otter_core.model import EventData, EventType, Position

    payload = (
        (lambda i: os.urandom(-width).hex()[:-width]) if width < 0 else (lambda i: f"note {i} " + "x" * width)
    )
    return [
        (
            "dst",
            5,
            EventData(
                "bench",
                "t",
                EventType.INSERT,
                {"id": seed * 100000 + i},
                {"qty": i, "name": f"name-{i}", "price": decimal.Decimal("12.50"), "note": payload(i)},
                position=Position("bin.000001", i),
            ),
        )
        for i in range(events)
    ]


def pipeline(threshold: int, kind: str, streams: int):
    from otter_core.model import DataMedia, DataMediaPair, Pipeline, PipelineParameters

    pair = DataMediaPair(DataMedia("bench", "t"), DataMedia("bench", "t"))
    return Pipeline(
        "bench",
        "a",
        "b",
        (pair,),
        pipe=kind,
        channel="pipes",
        parameters=PipelineParameters(pipe_threshold_bytes=threshold, pipe_streams=streams),
    )


def node(host: str, spool: str):
    from otter_core.model import NodeContext

    return NodeContext(
        node_id=f"bench-{os.getpid()}",
        bind_host=host,
        advertised_host=host,
        auth_token=os.environ["OTTER_BENCH_TOKEN"],
        spool_dir=spool,
    )


def _cpu_of(work) -> float:
    """CPU seconds of this thread for ``work()`` (wall time is meaningless on a shared machine)."""
    started = time.thread_time()
    work()
    return time.thread_time() - started


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def send(line: dict) -> None:
    print(json.dumps(line), flush=True)


def role_sender(args: argparse.Namespace) -> None:
    """Puts every scenario's batches, prints their keys, serves until told to stop; raw TCP on request."""
    from otter_grpc.pipe import GrpcPipe

    spool = os.path.join("/tmp", f"otter-bench-spool-{os.getpid()}")
    for index, (_name, kind, events, width, count, threshold) in enumerate(SCENARIOS):
        if args.quick:
            count = max(2, count // 4)
        pipe = GrpcPipe(pipeline(threshold, kind, args.streams), node(args.sender_host, spool), kind)
        batches = [make_batch(events, width, index * 1000 + i) for i in range(count)]
        encoded = [len(pipe.codec.encode(b)) for b in batches]  # baselines first: not in the pipe's CPU
        codec_cpu = _cpu_of(
            lambda pipe=pipe, batches=batches: [pipe.codec.decode(pipe.codec.encode(b)) for b in batches]
        )
        pickle_cpu = _cpu_of(
            lambda batches=batches: [
                pickle.loads(pickle.dumps(b, protocol=pickle.HIGHEST_PROTOCOL)) for b in batches
            ]
        )
        started, cpu0 = time.perf_counter(), cpu()
        keys = [pipe.put(batch) for batch in batches]
        put_seconds, put_cpu = time.perf_counter() - started, cpu() - cpu0
        send(
            {
                "scenario": index,
                "keys": keys,
                "bytes": sum(encoded),
                "put_seconds": put_seconds,
                "put_cpu": put_cpu,
                "codec_cpu": codec_cpu,
                "pickle_cpu": pickle_cpu,
            }
        )
        command = sys.stdin.readline().strip()  # "next" when the receiver is done with this scenario
        send({"scenario": index, "serve_cpu": cpu() - cpu0 - put_cpu})
        pipe.close()
        assert command == "next", command
    raw_tcp_server(args)


def raw_tcp_server(args: argparse.Namespace) -> None:
    """Baseline: accept one connection and send the requested number of bytes, as fast as sendall goes."""
    listener = socket.create_server((args.sender_host, 0))
    send({"raw_port": listener.getsockname()[1]})
    conn, _ = listener.accept()
    size = int(conn.recv(64).decode())
    block = os.urandom(1 << 20)
    sent = 0
    while sent < size:
        conn.sendall(block[: min(len(block), size - sent)])
        sent += min(len(block), size - sent)
    conn.close()


def role_receiver(args: argparse.Namespace) -> None:
    from otter_grpc.pipe import GrpcPipe

    spool = os.path.join("/tmp", f"otter-bench-spool-{os.getpid()}")
    for line in sys.stdin:
        order = json.loads(line)
        if "raw_port" in order:
            send(raw_tcp_client(args.sender_host, order["raw_port"], order["raw_bytes"]))
            return
        index = order["scenario"]
        _, kind, events, width, _count, threshold = SCENARIOS[index]
        pipe = GrpcPipe(pipeline(threshold, kind, args.streams), node("127.0.0.1", spool), kind)
        latencies: list[float] = []
        lock = threading.Lock()

        def take(
            key: str, pipe: GrpcPipe = pipe, lock: threading.Lock = lock, latencies: list[float] = latencies
        ) -> int:
            started = time.perf_counter()
            batch = pipe.get(key)
            with lock:
                latencies.append(time.perf_counter() - started)
            return len(batch)

        started, cpu0 = time.perf_counter(), cpu()
        with ThreadPoolExecutor(max_workers=args.parallelism) as pool:
            rows = sum(pool.map(take, order["keys"]))
        seconds = time.perf_counter() - started
        latencies.sort()
        send(
            {
                "scenario": index,
                "seconds": seconds,
                "cpu": cpu() - cpu0,
                "rows": rows,
                "p50_ms": latencies[len(latencies) // 2] * 1000,
                "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
            }
        )
        pipe.close()


def raw_tcp_client(host: str, port: int, size: int) -> dict:
    conn = socket.create_connection((host, port))
    started = time.perf_counter()
    conn.sendall(str(size).encode().ljust(64))
    got = 0
    while got < size:
        data = conn.recv(1 << 20)
        if not data:
            break
        got += len(data)
    return {"raw_seconds": time.perf_counter() - started, "raw_bytes": got}


def spawn(role: str, namespace: str | None, args: argparse.Namespace) -> subprocess.Popen:
    command = [
        sys.executable,
        os.path.abspath(__file__),
        "--role",
        role,
        "--sender-host",
        args.sender_host,
        "--parallelism",
        str(args.parallelism),
        "--streams",
        str(args.streams),
    ]
    command += ["--quick"] if args.quick else []
    if namespace:
        command = ["ip", "netns", "exec", namespace] + command
    return subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)


def orchestrate(args: argparse.Namespace) -> list[dict[str, Any]]:
    os.environ["OTTER_BENCH_TOKEN"] = secrets.token_hex(16)
    sender = spawn("sender", args.sender_ns, args)
    receiver = spawn("receiver", args.receiver_ns, args)
    results = []
    try:
        for index, scenario in enumerate(SCENARIOS):
            put = json.loads(sender.stdout.readline())
            receiver.stdin.write(json.dumps({"scenario": index, "keys": put["keys"]}) + "\n")
            receiver.stdin.flush()
            got = json.loads(receiver.stdout.readline())
            sender.stdin.write("next\n")
            sender.stdin.flush()
            served = json.loads(sender.stdout.readline())
            count = len(put["keys"])
            mb = put["bytes"] / 1e6
            results.append(
                {
                    "scenario": scenario[0],
                    "batches": count,
                    "MB": round(mb, 2),
                    "batches_per_s": round(count / got["seconds"], 1),
                    "MB_per_s": round(mb / got["seconds"], 2),
                    "get_p50_ms": round(got["p50_ms"], 1),
                    "get_p99_ms": round(got["p99_ms"], 1),
                    "put_batches_per_s": round(count / put["put_seconds"], 1),
                    "codec_cpu_s": round(put["codec_cpu"], 3),
                    "pickle_cpu_s": round(put["pickle_cpu"], 3),
                    "cpu_s_receiver": round(got["cpu"], 2),
                    "cpu_s_sender": round(put["put_cpu"] + served["serve_cpu"], 2),
                }
            )
            print(json.dumps(results[-1]), file=sys.stderr, flush=True)
        raw = json.loads(sender.stdout.readline())
        raw_bytes = 64 << 20 if not args.quick else 16 << 20
        receiver.stdin.write(json.dumps({"raw_port": raw["raw_port"], "raw_bytes": raw_bytes}) + "\n")
        receiver.stdin.flush()
        got = json.loads(receiver.stdout.readline())
        results.append(
            {
                "scenario": "baseline: raw TCP, one socket",
                "MB": round(raw_bytes / 1e6, 2),
                "MB_per_s": round(got["raw_bytes"] / 1e6 / got["raw_seconds"], 2),
            }
        )
        print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    finally:
        for proc in (sender, receiver):
            if proc.poll() is None:
                proc.stdin.close()
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
    return results


def table(results: list[dict]) -> str:
    lines = [
        "| scenario | batches | MB | batches/s | MB/s | get p50 / p99 ms | CPU s recv / send | "
        "codec CPU s: msgpack / pickle |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        if "batches" in r:
            lines.append(
                f"| {r['scenario']} | {r['batches']} | {r['MB']} | {r['batches_per_s']} | {r['MB_per_s']} | "
                f"{r['get_p50_ms']} / {r['get_p99_ms']} | {r['cpu_s_receiver']} / {r['cpu_s_sender']} | "
                f"{r['codec_cpu_s']} / {r['pickle_cpu_s']} |"
            )
        else:
            lines.append(f"| {r['scenario']} | | {r['MB']} | | {r['MB_per_s']} | | | |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--role", choices=["sender", "receiver"])
    parser.add_argument("--sender-ns")
    parser.add_argument("--receiver-ns")
    parser.add_argument("--sender-host", default="127.0.0.1", help="address the sender listens on")
    parser.add_argument("--parallelism", type=int, default=5)
    parser.add_argument("--streams", type=int, default=4)
    parser.add_argument("--quick", action="store_true", help="a quarter of the batches (a smoke run)")
    parser.add_argument("--json")
    args = parser.parse_args()
    if args.role == "sender":
        return role_sender(args)
    if args.role == "receiver":
        return role_receiver(args)
    results = orchestrate(args)
    print(table(results))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"args": vars(args), "results": results}, handle, indent=1)


if __name__ == "__main__":
    main()

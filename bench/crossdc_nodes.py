"""The node part of bench/crossdc.py: a whole otter deployment split over two "data centres".

    otter-dc1: ZooKeeper, source MariaDB, node 1 (Select/Extract)
    otter-dc2: target MariaDB, node 2 (Transform/Load)        rpc pipe across the emulated WAN

Each process runs inside its namespace through ``ip netns exec``; this module is also the helper those
processes run (``--role server|writer|poller``). Clocks: every namespace shares the machine's clock, so a
row stamped with ``time.time()`` by the writer in dc1 and first seen by the poller in dc2 gives its
end-to-end latency directly.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DDL = [
    "CREATE DATABASE xdc",
    "CREATE TABLE xdc.bulk (id INT PRIMARY KEY, qty INT, name VARCHAR(64), note VARCHAR(200))",
    "CREATE TABLE xdc.lat (id INT PRIMARY KEY, t DOUBLE)",
]


# ----------------------------------------------------------------------------------- helper roles
def role_server(kind: str, workdir: str) -> None:
    """Start a server in this namespace, print its port, stop it when stdin closes."""
    if kind == "zookeeper":
        from otter_core.testing.zookeeper import ZooKeeperServer

        class ReachableZooKeeper(ZooKeeperServer):
            """The test server, listening on every address of its namespace (dc2's node dials it)."""

            def _write_config(self) -> Path:
                cfg = super()._write_config()
                cfg.write_text(
                    cfg.read_text().replace("clientPortAddress=127.0.0.1", "clientPortAddress=0.0.0.0")
                )
                return cfg

        server = ReachableZooKeeper(Path(workdir) / "zk", tick_ms=500, max_session_ms=60_000).start()
    else:
        from otter_core.testing.mariadb import MariaDBServer

        server = MariaDBServer(
            Path(workdir) / kind, server_id=1 if kind == "source" else 2, log_bin=kind == "source"
        ).start()
        server.execute(*DDL)
    position = server.binlog_position() if kind == "source" else None
    print(json.dumps({"port": server.port, "position": position}), flush=True)
    sys.stdin.read()
    server.stop()


def _connect(port: int, autocommit: bool = True):
    import pymysql

    from otter_core.testing.mariadb import OTTER_PASSWORD, OTTER_USER

    return pymysql.connect(
        host="127.0.0.1", port=port, user=OTTER_USER, password=OTTER_PASSWORD, autocommit=autocommit
    )


def role_writer(port: int, rows: int, samples: int, interval: float) -> None:
    """dc1: on "bulk", insert ``rows`` rows in 1000-row transactions; on "latency", ``samples`` single rows
    stamped with the time of their commit request."""
    conn = _connect(port, autocommit=False)
    for command in sys.stdin:
        command = command.strip()
        with conn.cursor() as cur:
            if command == "warm":
                cur.execute("INSERT INTO xdc.lat VALUES (-1, %s)", (time.time(),))
                conn.commit()
                print(json.dumps({"warm": True}), flush=True)
            elif command == "bulk":
                started = time.time()
                for start in range(0, rows, 1000):
                    cur.executemany(
                        "INSERT INTO xdc.bulk VALUES (%s, %s, %s, %s)",
                        [(i, i % 97, f"name {i}", "x" * 100) for i in range(start, min(start + 1000, rows))],
                    )
                    conn.commit()
                print(
                    json.dumps({"written": rows, "write_seconds": time.time() - started, "started": started}),
                    flush=True,
                )
            elif command == "latency":
                for i in range(samples):
                    cur.execute("INSERT INTO xdc.lat VALUES (%s, %s)", (i, time.time()))
                    conn.commit()
                    time.sleep(interval)
                print(json.dumps({"written": samples}), flush=True)


def role_poller(port: int, rows: int, samples: int) -> None:
    """dc2: on "bulk", wait until every bulk row arrived; on "latency", note when each stamped row shows up."""
    conn = _connect(port)
    for command in sys.stdin:
        command = command.strip()
        with conn.cursor() as cur:
            if command == "warm":
                deadline = time.time() + 300
                while time.time() < deadline:
                    cur.execute("SELECT COUNT(*) FROM xdc.lat WHERE id = -1")
                    if cur.fetchone()[0]:
                        break
                    time.sleep(0.05)
                else:
                    raise SystemExit("the warm-up row never arrived: see the node logs")
                print(json.dumps({"warm": True}), flush=True)
            elif command == "bulk":
                while True:
                    cur.execute("SELECT COUNT(*) FROM xdc.bulk")
                    if cur.fetchone()[0] >= rows:
                        break
                    time.sleep(0.05)
                print(json.dumps({"arrived": time.time()}), flush=True)
            elif command == "latency":
                # rows of one batch commit on several connections: a higher id can show up before a lower one
                seen: set[int] = set()
                latencies, deadline = [], time.time() + 300
                while len(latencies) < samples and time.time() < deadline:
                    cur.execute("SELECT id, t FROM xdc.lat WHERE id >= 0")  # id -1 is the warm-up row
                    now = time.time()
                    for row_id, stamp in cur.fetchall():
                        if row_id not in seen:
                            seen.add(row_id)
                            latencies.append(now - stamp)
                    time.sleep(0.002)
                print(json.dumps({"latencies": latencies}), flush=True)


# ----------------------------------------------------------------------------------- orchestration
def _spawn(namespace: str, *args: str, log: Path | None = None) -> subprocess.Popen:
    command = ["ip", "netns", "exec", namespace, sys.executable, *args]
    out = open(log, "ab") if log else subprocess.PIPE
    return subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=out,
        stderr=subprocess.STDOUT if log else None,
        text=log is None,
    )


def _helper(namespace: str, *args: str) -> subprocess.Popen:
    return _spawn(namespace, str(Path(__file__).resolve()), *args)


def _ask(proc: subprocess.Popen, command: str) -> dict:
    proc.stdin.write(command + "\n")
    proc.stdin.flush()
    line = proc.stdout.readline()
    if not line:
        raise RuntimeError(f"helper {proc.args} ended without answering {command!r}")
    return json.loads(line)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_nodes(
    dc1: str,
    dc2: str,
    host1: str,
    host2: str,
    rows: int,
    samples: int,
    keep: Path | None,
    interval: float = 0.5,
    zk_in_dc2: bool = False,
    arbitrate: str = "zookeeper",
) -> dict:
    """Deploy the split pipeline across the two namespaces and measure rows/s and row latency."""
    work = Path(tempfile.mkdtemp(prefix="otter-crossdc-"))
    procs: list[subprocess.Popen] = []
    try:
        zk = _helper(
            dc2 if zk_in_dc2 else dc1, "--role", "server", "--kind", "zookeeper", "--workdir", str(work)
        )
        source = _helper(dc1, "--role", "server", "--kind", "source", "--workdir", str(work))
        target = _helper(dc2, "--role", "server", "--kind", "target", "--workdir", str(work))
        procs += [zk, source, target]
        zk_info, source_info, target_info = (json.loads(p.stdout.readline()) for p in (zk, source, target))
        zk_port, source_port, target_port = zk_info["port"], source_info["port"], target_info["port"]
        binlog_file, binlog_pos = source_info["position"]
        zk_hosts = f"{host2 if zk_in_dc2 else host1}:{zk_port}"
        token = work / "token"
        token.write_text(secrets.token_hex(24))
        config = work / "xdc.yaml"
        config.write_text(
            PIPELINE_YAML.format(
                source_port=source_port, target_port=target_port, file=binlog_file, pos=binlog_pos
            )
        )
        deploy = subprocess.run(
            [
                "ip",
                "netns",
                "exec",
                dc1,
                sys.executable,
                "-m",
                "otter_core.cli",
                "deploy",
                str(config),
                "--zk",
                zk_hosts,
                "--select",
                "1",
                "--load",
                "2",
                "--arbitrate",
                arbitrate,
            ],
            capture_output=True,
            text=True,
        )
        if deploy.returncode != 0:
            raise RuntimeError(f"deploy failed: {deploy.stdout}{deploy.stderr}")
        for node_id, namespace, host in ((1, dc1, host1), (2, dc2, host2)):
            level = os.environ.get("OTTER_CROSSDC_LOG_LEVEL", "INFO")
            procs.append(
                _spawn(
                    namespace,
                    "-m",
                    "otter_core.cli",
                    "--log-level",
                    level,
                    "node",
                    "--zk",
                    zk_hosts,
                    "--id",
                    str(node_id),
                    "--bind",
                    host,
                    "--auth-token-file",
                    str(token),
                    "--state-dir",
                    str(work / f"node-{node_id}"),
                    "--session-timeout",
                    "10",
                    log=work / f"node-{node_id}.log",
                )
            )
        writer = _helper(
            dc1,
            "--role",
            "writer",
            "--port",
            str(source_port),
            "--rows",
            str(rows),
            "--samples",
            str(samples),
            "--interval",
            str(interval),
        )
        poller = _helper(
            dc2,
            "--role",
            "poller",
            "--port",
            str(target_port),
            "--rows",
            str(rows),
            "--samples",
            str(samples),
        )
        procs += [writer, poller]
        _ask(writer, "warm")  # one row through the whole deployment: the nodes are up and the path is warm
        _ask(poller, "warm")
        written = _ask(writer, "bulk")
        arrived = _ask(poller, "bulk")
        seconds = arrived["arrived"] - written["started"]
        result = {
            "arbitrate": arbitrate,
            "zookeeper_in": dc2 if zk_in_dc2 else dc1,
            "rows": rows,
            "rows_per_s": round(rows / seconds, 1),
            "seconds": round(seconds, 2),
            "source_write_seconds": round(written["write_seconds"], 2),
        }
        poller.stdin.write("latency\n")
        poller.stdin.flush()
        _ask(writer, "latency")
        latencies = json.loads(poller.stdout.readline())["latencies"]
        result.update(
            {
                "latency_samples": len(latencies),
                "latency_interval_s": interval,
                "latency_p50_ms": round(_percentile(latencies, 0.50) * 1000, 1),
                "latency_p99_ms": round(_percentile(latencies, 0.99) * 1000, 1),
                "latency_max_ms": round(max(latencies) * 1000, 1),
            }
        )
        return result
    finally:
        for proc in reversed(procs):  # nodes first, then helpers; a server helper stops its server on EOF
            if proc.poll() is None:
                if proc.stdin:
                    try:
                        proc.stdin.close()
                    except OSError:
                        pass
                if "--role" not in proc.args:
                    proc.terminate()
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.kill()
        if keep:
            keep.mkdir(parents=True, exist_ok=True)
            for log in work.glob("node-*.log"):
                (keep / log.name).write_bytes(log.read_bytes())
        subprocess.run(["rm", "-rf", str(work)])


PIPELINE_YAML = """
sources:
  src: {{type: mysql, host: 127.0.0.1, port: {source_port}, user: otter, password: otter}}
  dst: {{type: mysql, host: 127.0.0.1, port: {target_port}, user: otter, password: otter}}
channels:
  - name: xdc
    pipelines:
      - name: dc1-to-dc2
        source: src
        target: dst
        pipe: rpc
        start: {{file: {file}, pos: {pos}}}
        pairs: [xdc.bulk, xdc.lat]
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--role", choices=["server", "writer", "poller"], required=True)
    parser.add_argument("--kind")
    parser.add_argument("--workdir")
    parser.add_argument("--port", type=int)
    parser.add_argument("--rows", type=int, default=0)
    parser.add_argument("--samples", type=int, default=0)
    parser.add_argument("--interval", type=float, default=0.05)
    args = parser.parse_args()
    if args.role == "server":
        role_server(args.kind, args.workdir)
    elif args.role == "writer":
        role_writer(args.port, args.rows, args.samples, args.interval)
    else:
        role_poller(args.port, args.rows, args.samples)


if __name__ == "__main__":
    main()

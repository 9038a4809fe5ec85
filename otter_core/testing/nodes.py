"""Node processes for tests and benchmarks: ``otter-run node`` in a subprocess, and a deploy helper."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

TEST_CLUSTER_TOKEN = secrets.token_hex(16)  # the shared node token of the nodes this process starts


class NodeProcess:
    """``otter-run node --zk HOSTS --id N`` with its log in ``workdir/node-N.log``."""

    def __init__(
        self,
        zk_hosts: str,
        node_id: int,
        workdir: str | os.PathLike,
        *,
        session_timeout: float = 2.0,
        root: str = "/otter",
        extra: tuple[str, ...] = (),
    ) -> None:
        self.zk_hosts = zk_hosts
        self.node_id = node_id
        self.workdir = Path(workdir)
        self.session_timeout = session_timeout
        self.root = root
        self.extra = extra
        self.process: subprocess.Popen | None = None
        self.log_path = self.workdir / f"node-{node_id}.log"

    def start(self) -> NodeProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        cmd = [
            sys.executable,
            "-m",
            "otter_core.cli",
            "--log-level",
            "INFO",
            "node",
            "--zk",
            self.zk_hosts,
            "--zk-root",
            self.root,
            "--id",
            str(self.node_id),
            "--state-dir",
            str(self.workdir / f"state-{self.node_id}"),
            "--session-timeout",
            str(self.session_timeout),
            *self.extra,
        ]
        # node-to-node traffic is authenticated: every node of a test cluster shares this process's token
        env = {**os.environ, "OTTER_NODE_TOKEN": os.environ.get("OTTER_NODE_TOKEN", TEST_CLUSTER_TOKEN)}
        self.process = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
        )
        log.close()
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> float:
        """SIGKILL; returns the time (time.time()) the signal was sent."""
        assert self.process is not None
        when = time.time()
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        return when

    def stop(self, timeout: float = 60.0) -> int:
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except FileNotFoundError:
            return ""

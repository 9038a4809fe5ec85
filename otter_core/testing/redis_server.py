"""A throwaway redis-server on a free loopback port, in its own directory (tests)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from otter_core.testing.mariadb import free_port
from otter_core.testing.processes import stop_process


class RedisServer:
    """``start()`` runs redis-server without persistence; ``destroy()`` stops it and removes its directory."""

    def __init__(self, basedir: str | os.PathLike | None = None, port: int | None = None) -> None:
        self.basedir = Path(basedir or tempfile.mkdtemp(prefix="otter-redis-"))
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0) -> RedisServer:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not os.path.exists(binary):
            raise FileNotFoundError("redis-server not found: `apt-get install redis-server`")
        self.basedir.mkdir(parents=True, exist_ok=True)
        log = open(self.basedir / "redis.log", "ab")
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.basedir),
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--protected-mode",
                "yes",
            ],
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                tail = (self.basedir / "redis.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"redis-server in {self.basedir} did not start:\n{tail}")
            time.sleep(0.05)

    def client(self, **kwargs: Any) -> Any:
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, **kwargs)

    def source_config(self, name: str = "cache") -> dict[str, Any]:
        return {"type": "redis", "host": "127.0.0.1", "port": self.port}

    def stop(self, timeout: float = 15.0) -> None:
        stop_process(self.process, signal.SIGTERM, timeout)
        self.process = None

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.basedir, ignore_errors=True)

"""A throwaway standalone ZooKeeper (Debian's ``zookeeper`` package, Java) on a free loopback port.

Used by the tests, the distributed benchmarks and anyone who wants a ZooKeeper for a try-out:
``ZooKeeperServer(dir).start()`` returns once the server answers ``ruok``, usually in 1-3 s.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from otter_core.testing.mariadb import free_port

JAR_DIRS = ("/usr/share/java", "/usr/share/zookeeper/lib")
# zookeeper.jar's manifest lists its own dependencies; slf4j-simple makes its log readable in a file.
EXTRA_JARS = ("slf4j-api.jar", "slf4j-simple.jar")


def zookeeper_classpath() -> str:
    """The classpath of the packaged server, or a FileNotFoundError that says what to install."""
    for folder in JAR_DIRS:
        jar = Path(folder) / "zookeeper.jar"
        if jar.exists():
            extra = [str(Path(folder) / name) for name in EXTRA_JARS if (Path(folder) / name).exists()]
            return os.pathsep.join([str(jar), *extra])
    raise FileNotFoundError(
        "zookeeper.jar not found: install ZooKeeper and Java "
        "(`apt-get install zookeeper default-jre-headless`)"
    )


def java_binary() -> str:
    java = shutil.which("java") or ("/usr/bin/java" if os.path.exists("/usr/bin/java") else None)
    if java is None:
        raise FileNotFoundError("java not found: `apt-get install default-jre-headless`")
    return java


class ZooKeeperServer:
    """Start with ``start()``, stop with ``stop()`` (or ``kill()``), remove with ``destroy()``.

    ``hosts`` is the connect string (``127.0.0.1:PORT``). The tick is short (200 ms) so that tests can
    use session timeouts of a second or two; ``max_session_ms`` caps what clients may ask for.
    """

    def __init__(
        self,
        basedir: str | os.PathLike | None = None,
        port: int | None = None,
        tick_ms: int = 200,
        max_session_ms: int = 60000,
    ) -> None:
        self.basedir = Path(basedir or tempfile.mkdtemp(prefix="otter-zookeeper-"))
        self.port = port or free_port()
        self.tick_ms = tick_ms
        self.max_session_ms = max_session_ms
        self.process: subprocess.Popen | None = None

    @property
    def hosts(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.basedir / "zookeeper.log"

    def _write_config(self) -> Path:
        data = self.basedir / "data"
        data.mkdir(parents=True, exist_ok=True)
        cfg = self.basedir / "zoo.cfg"
        cfg.write_text(
            "\n".join(
                [
                    f"tickTime={self.tick_ms}",
                    f"dataDir={data}",
                    f"clientPort={self.port}",
                    "clientPortAddress=127.0.0.1",
                    "admin.enableServer=false",
                    f"minSessionTimeout={2 * self.tick_ms}",
                    f"maxSessionTimeout={self.max_session_ms}",
                    "4lw.commands.whitelist=ruok,srvr,stat",
                    "maxClientCnxns=200",
                    "",
                ]
            )
        )
        return cfg

    def start(self, timeout: float = 60.0) -> ZooKeeperServer:
        cfg = self._write_config()
        log = open(self.log_path, "ab")
        cmd = [
            java_binary(),
            "-Xmx256m",
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            "-Dzookeeper.jmx.log4j.disable=true",
            "-Dzookeeper.admin.enableServer=false",
            "-cp",
            zookeeper_classpath(),
            "org.apache.zookeeper.server.ZooKeeperServerMain",
            str(cfg),
        ]
        self.process = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"ZooKeeper exited with {self.process.returncode}: {self.log_path.read_text()[-2000:]}"
                )
            if self.is_ok():
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(
            f"ZooKeeper did not answer on {self.hosts} within {timeout}s: {self.log_path.read_text()[-2000:]}"
        )

    def is_ok(self) -> bool:
        """True when the server answers the ``ruok`` four-letter word."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1.0) as sock:
                sock.sendall(b"ruok")
                return sock.recv(4) == b"imok"
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.basedir, ignore_errors=True)

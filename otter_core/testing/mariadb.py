"""A throwaway MariaDB server on a free loopback port, in its own directory (tests, demo, benchmarks)."""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pymysql  # test support: declared in otter-core's [test] extra, never imported by the runtime

SERVER_USER = "root" if os.geteuid() == 0 else getpass.getuser()  # mariadbd runs as this OS user
OTTER_USER = "otter"
OTTER_PASSWORD = "otter"


class _Connection(pymysql.connections.Connection):
    """PyMySQL's preferred TLS mode with one context per process, as ``otter_mysql.mysql_connect`` (the
    core imports no plugin): a fresh default context costs ~27 ms of CPU, and the fixtures connect often."""

    _preferred: Any = None

    def _create_ssl_ctx(self, sslp: Any) -> Any:
        if sslp:
            return super()._create_ssl_ctx(sslp)  # type: ignore[misc]  # private hook, absent from the stubs
        if _Connection._preferred is None:
            _Connection._preferred = super()._create_ssl_ctx({})  # type: ignore[misc]  # as above
        return _Connection._preferred


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_binary(*names: str) -> str:
    for name in names:
        path = shutil.which(name) or next(
            (p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.path.exists(p)), None
        )
        if path:
            return path
    raise FileNotFoundError(
        f"none of {names} found: install MariaDB (`apt-get install mariadb-server mariadb-client`)"
    )


class MariaDBServer:
    """Start with ``start()``, stop with ``stop()``; ``settings`` become lines of my.cnf."""

    def __init__(
        self,
        basedir: str | os.PathLike | None = None,
        server_id: int = 1,
        port: int | None = None,
        log_bin: bool = True,
        **settings: Any,
    ) -> None:
        self.basedir = Path(basedir or tempfile.mkdtemp(prefix="otter-mariadb-"))
        self.server_id = server_id
        self.port = port or free_port()
        self.log_bin = log_bin
        self.settings = settings
        self.process: subprocess.Popen | None = None

    @property
    def socket_path(self) -> str:
        return str(self.basedir / "mysqld.sock")

    @property
    def cnf(self) -> Path:
        return self.basedir / "my.cnf"

    def _write_cnf(self) -> None:
        lines = [
            "[mariadbd]",
            f"datadir={self.basedir / 'data'}",
            f"tmpdir={self.basedir / 'tmp'}",
            f"socket={self.socket_path}",
            f"pid-file={self.basedir / 'mysqld.pid'}",
            f"port={self.port}",
            "bind-address=127.0.0.1",
            f"server_id={self.server_id}",
            "skip-name-resolve",
            "innodb_flush_log_at_trx_commit=2",
            "sync_binlog=0",
            "innodb_buffer_pool_size=256M",
            "innodb_log_file_size=256M",
            "max_allowed_packet=256M",
            "character-set-server=utf8mb4",
            "collation-server=utf8mb4_general_ci",
            f"log-error={self.basedir / 'error.log'}",
            "performance_schema=OFF",
        ]
        if self.log_bin:
            lines += [
                f"log_bin={self.basedir / 'data' / 'mysql-bin'}",
                "binlog_format=ROW",
                "binlog_row_image=FULL",
            ]
        for key, value in self.settings.items():
            lines.append(f"{key.replace('_', '-')}={value}" if value is not True else key)
        self.cnf.write_text("\n".join(lines) + "\n")

    def start(self, timeout: float = 60.0) -> MariaDBServer:
        (self.basedir / "tmp").mkdir(parents=True, exist_ok=True)
        self._write_cnf()
        if not (self.basedir / "data" / "mysql").exists():
            subprocess.run(
                [
                    find_binary("mariadb-install-db", "mysql_install_db"),
                    f"--defaults-file={self.cnf}",
                    f"--user={SERVER_USER}",
                    "--skip-test-db",
                    "--auth-root-authentication-method=socket",
                ],
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            fresh = True
        else:
            fresh = False
        self.process = subprocess.Popen(
            [find_binary("mariadbd", "mysqld"), f"--defaults-file={self.cnf}", f"--user={SERVER_USER}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while True:
            try:
                conn = self.root_connect()
                conn.close()
                break
            except pymysql.err.OperationalError as exc:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    log = self.basedir / "error.log"
                    tail = log.read_text()[-2000:] if log.exists() else ""
                    raise RuntimeError(f"MariaDB in {self.basedir} did not start:\n{tail}") from exc
                time.sleep(0.1)
        if fresh:
            self.root_execute(
                "SET SESSION sql_log_bin=0",
                f"CREATE USER '{OTTER_USER}'@'%' IDENTIFIED BY '{OTTER_PASSWORD}'",
                f"GRANT ALL PRIVILEGES ON *.* TO '{OTTER_USER}'@'%' WITH GRANT OPTION",
                f"CREATE USER '{OTTER_USER}'@'localhost' IDENTIFIED BY '{OTTER_PASSWORD}'",
                f"GRANT ALL PRIVILEGES ON *.* TO '{OTTER_USER}'@'localhost' WITH GRANT OPTION",
            )
        return self

    def root_connect(self, **kwargs: Any) -> pymysql.connections.Connection:
        return _Connection(
            unix_socket=self.socket_path, user=SERVER_USER, autocommit=True, charset="utf8mb4", **kwargs
        )

    def connect(self, **kwargs: Any) -> pymysql.connections.Connection:
        """A TCP connection as the ``otter`` user (what a pipeline uses)."""
        kwargs.setdefault("autocommit", True)
        return _Connection(
            host="127.0.0.1",
            port=self.port,
            user=OTTER_USER,
            password=OTTER_PASSWORD,
            charset="utf8mb4",
            **kwargs,
        )

    def root_execute(self, *statements: str) -> None:
        conn = self.root_connect()
        try:
            with conn.cursor() as cur:
                for sql in statements:
                    cur.execute(sql)
        finally:
            conn.close()

    def execute(self, *statements: str, args: Any = None) -> list[tuple]:
        """Run statements as the otter user; return the rows of the last one."""
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                for sql in statements:
                    cur.execute(sql, args)
                return list(cur.fetchall())
        finally:
            conn.close()

    def source_config(self, name: str) -> dict[str, Any]:
        """The YAML mapping that points a pipeline at this server."""
        return {
            "type": "mysql",
            "host": "127.0.0.1",
            "port": self.port,
            "user": OTTER_USER,
            "password": OTTER_PASSWORD,
        }

    def binlog_position(self) -> tuple[str, int]:
        rows = self.execute("SHOW MASTER STATUS")
        return rows[0][0], int(rows[0][1])

    def stop(self, timeout: float = 30.0) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.basedir, ignore_errors=True)

    def __enter__(self) -> MariaDBServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.destroy()

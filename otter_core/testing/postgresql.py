"""A throwaway PostgreSQL 15 server on a free loopback port, in its own directory (tests, benchmarks).

PostgreSQL refuses to run as root: when the tests run as root, the server runs as the ``postgres`` user
(created by Debian's package) in a directory under /tmp owned by it.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from otter_core.testing.mariadb import free_port
from otter_core.testing.processes import stop_process

PG_USER = "otter"
PG_PASSWORD = "otter"
PG_DATABASE = "otter"
_BIN_DIRS = ("/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/17/bin")


def pg_binary(name: str) -> str:
    for folder in _BIN_DIRS:
        path = os.path.join(folder, name)
        if os.path.exists(path):
            return path
    found = shutil.which(name)
    if found:
        return found
    raise FileNotFoundError(f"{name} not found: install PostgreSQL 15 (`apt-get install postgresql-15`)")


class PostgreSQLServer:
    """``start()`` runs initdb (first time) and postgres; ``destroy()`` stops it and removes the directory."""

    def __init__(
        self, basedir: str | os.PathLike | None = None, port: int | None = None, **settings: Any
    ) -> None:
        self.basedir = Path(basedir or tempfile.mkdtemp(prefix="otter-pg-"))
        self.port = port or free_port()
        self.settings = {
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "shared_buffers": "128MB",
            "max_connections": "100",
            **settings,
        }
        self.process: subprocess.Popen | None = None
        self.os_user = "postgres" if os.geteuid() == 0 else None

    @property
    def datadir(self) -> Path:
        return self.basedir / "data"

    def _run_as(self) -> dict[str, Any]:
        if self.os_user is None:
            return {}
        entry = pwd.getpwnam(self.os_user)
        return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}

    def start(self, timeout: float = 60.0) -> PostgreSQLServer:
        self.basedir.mkdir(parents=True, exist_ok=True)
        if self.os_user is not None:
            entry = pwd.getpwnam(self.os_user)
            os.chown(self.basedir, entry.pw_uid, entry.pw_gid)
        if not (self.datadir / "PG_VERSION").exists():
            pwfile = self.basedir / "pwfile"
            pwfile.write_text(PG_PASSWORD + "\n")
            if self.os_user is not None:
                os.chown(pwfile, pwd.getpwnam(self.os_user).pw_uid, -1)
            subprocess.run(
                [
                    pg_binary("initdb"),
                    "-D",
                    str(self.datadir),
                    "-U",
                    PG_USER,
                    f"--pwfile={pwfile}",
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                ],
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                **self._run_as(),
            )
            pwfile.unlink()
        args = [
            pg_binary("postgres"),
            "-D",
            str(self.datadir),
            "-p",
            str(self.port),
            "-k",
            str(self.basedir),
            "-c",
            "listen_addresses=127.0.0.1",
        ]
        for key, value in self.settings.items():
            args += ["-c", f"{key}={value}"]
        log = open(self.basedir / "server.log", "ab")
        self.process = subprocess.Popen(
            args, stdout=log, stderr=log, start_new_session=True, **self._run_as()
        )
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.connect(dbname="postgres").close()
                break
            except Exception as exc:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    tail = (self.basedir / "server.log").read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"PostgreSQL in {self.basedir} did not start:\n{tail}") from exc
                time.sleep(0.1)
        conn = self.connect(dbname="postgres", autocommit=True)
        try:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (PG_DATABASE,)).fetchone():
                conn.execute(f'CREATE DATABASE "{PG_DATABASE}"')
        finally:
            conn.close()
        return self

    def connect(self, dbname: str = PG_DATABASE, autocommit: bool = True) -> Any:
        import psycopg

        return psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user=PG_USER,
            password=PG_PASSWORD,
            dbname=dbname,
            autocommit=autocommit,
            connect_timeout=5,
        )

    def execute(self, *statements: str, args: Any = None) -> list[tuple]:
        """Run statements; return the rows of the last one (empty when it returns none)."""
        with self.connect() as conn:
            cur = conn.cursor()
            for sql in statements:
                cur.execute(sql, args)
            return list(cur.fetchall()) if cur.description else []

    def source_config(self, name: str = "pg") -> dict[str, Any]:
        """The YAML mapping that points a pipeline's target at this server."""
        return {
            "type": "postgresql",
            "host": "127.0.0.1",
            "port": self.port,
            "user": PG_USER,
            "password": PG_PASSWORD,
            "options": {"database": PG_DATABASE},
        }

    def drop_user_schemas(self) -> None:
        rows = self.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' "
            "AND nspname NOT IN ('information_schema', 'public')"
        )
        for (name,) in rows:
            self.execute(f'DROP SCHEMA "{name}" CASCADE')

    def stop(self, timeout: float = 30.0) -> None:
        stop_process(self.process, signal.SIGINT, timeout)  # SIGINT: PostgreSQL's fast shutdown
        self.process = None

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.basedir, ignore_errors=True)

    def __enter__(self) -> PostgreSQLServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.destroy()

"""The two replicators bench/postgresql.py races from MariaDB into PostgreSQL: otter-run and pg_chameleon,
each a process tree started, metered and stopped the same way."""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from procstat import ProcessTreeMeter, log

from otter_core.testing.mariadb import OTTER_PASSWORD, OTTER_USER, MariaDBServer
from otter_core.testing.postgresql import PG_DATABASE, PG_PASSWORD, PG_USER, PostgreSQLServer

SCHEMAS = {"otter": "otter_bench", "pg_chameleon": "pgch_bench"}


# ------------------------------------------------------------------------------------------ replicators
class Replicator:
    name = ""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.process: subprocess.Popen | None = None
        self.logfile = workdir / f"{self.name}.log"

    run_as: dict[str, Any] = {}

    def command(self) -> tuple[list[str], dict[str, str]]:
        raise NotImplementedError

    def start(self) -> ProcessTreeMeter:
        args, env = self.command()
        with open(self.logfile, "ab") as out:
            self.process = subprocess.Popen(
                args,
                stdout=out,
                stderr=out,
                env={**os.environ, **env},
                start_new_session=True,
                cwd=env.get("HOME", self.workdir),
                **self.run_as,
            )
        return ProcessTreeMeter(self.process.pid)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


class Otter(Replicator):
    name = "otter"

    def __init__(self, workdir: Path, source: MariaDBServer, pg: PostgreSQLServer) -> None:
        super().__init__(workdir)
        self.source, self.pg, self.run = source, pg, 0

    def command(self) -> tuple[list[str], dict[str, str]]:
        self.run += 1
        file, pos = self.source.binlog_position() if self.start_at is None else self.start_at
        config = {
            "sources": {"src": self.source.source_config("src"), "pg": self.pg.source_config("pg")},
            "channels": [
                {
                    "name": "bench",
                    "pipelines": [
                        {
                            "name": "to-pg",
                            "source": "src",
                            "target": "pg",
                            "start": {"file": file, "pos": pos},
                            "pairs": [{"source": "bench.*", "target": f"{SCHEMAS['otter']}.*"}],
                            "parameters": {"skip_ddl": True},
                        }
                    ],
                }
            ],
        }
        path = self.workdir / f"otter-{self.run}.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        state = self.workdir / f"otter-state-{self.run}"
        return [sys.executable, "-m", "otter_core.cli", "run", str(path), "--state-dir", str(state)], {}

    start_at: tuple[str, int] | None = None


class PgChameleon(Replicator):
    name = "pg_chameleon"

    def __init__(self, workdir: Path, source: MariaDBServer, pg: PostgreSQLServer) -> None:
        super().__init__(workdir)
        self.home = workdir / "pgch-home"
        self.venv = workdir / "pgch-venv"
        self.source, self.pg = source, pg
        if os.geteuid() == 0:  # pg_chameleon refuses to run as root: run it as the postgres user
            entry = pwd.getpwnam("postgres")
            self.run_as = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
            os.chmod(workdir, 0o755)

    def install(self) -> str:
        log("pg_chameleon: installing from PyPI into a throwaway virtualenv")
        # an interpreter the postgres user can run (this one may live under /root)
        python = "/usr/bin/python3" if self.run_as and os.path.exists("/usr/bin/python3") else sys.executable
        subprocess.run([python, "-m", "venv", str(self.venv)], check=True)
        subprocess.run(
            [str(self.venv / "bin/pip"), "install", "-q", "pg_chameleon"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        out = subprocess.run(
            [str(self.venv / "bin/pip"), "show", "pg_chameleon"], capture_output=True, text=True
        )
        version = next(
            (line.split()[1] for line in out.stdout.splitlines() if line.startswith("Version")), "?"
        )
        example = next(
            self.venv.glob("lib/python*/site-packages/pg_chameleon/configuration/config-example.yml")
        )
        config = yaml.safe_load(example.read_text())
        config["pg_conn"].update(
            host="127.0.0.1", port=str(self.pg.port), user=PG_USER, password=PG_PASSWORD, database=PG_DATABASE
        )
        mysql = config["sources"]["mysql"]
        mysql["db_conn"].update(
            host="127.0.0.1", port=str(self.source.port), user=OTTER_USER, password=OTTER_PASSWORD
        )
        mysql.update(
            schema_mappings={"bench": SCHEMAS["pg_chameleon"]},
            limit_tables=[],
            skip_tables=[],
            grant_select_to=[],
            out_dir=str(self.workdir),
            skip_events={"insert": [], "delete": [], "update": []},
        )
        del config["sources"]["pgsql"]
        config["log_dest"] = "stdout"
        config["fillfactor"] = {}
        mysql["out_dir"] = str(self.home)
        folder = self.home / ".pg_chameleon" / "configuration"
        folder.mkdir(parents=True)
        for sub in ("pid", "logs"):
            (self.home / ".pg_chameleon" / sub).mkdir()
        (folder / "bench.yml").write_text(yaml.safe_dump(config, sort_keys=False))
        if self.run_as:
            for path in [self.home, *self.home.rglob("*")]:
                os.chown(path, self.run_as["user"], self.run_as["group"])
        return version

    def chameleon(self, *args: str) -> None:
        result = subprocess.run(
            [str(self.venv / "bin/chameleon"), *args, "--config", "bench"],
            env={**os.environ, "HOME": str(self.home)},
            capture_output=True,
            text=True,
            cwd=self.home,
            **self.run_as,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"chameleon {' '.join(args)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
            )

    def setup(self) -> None:
        self.chameleon("create_replica_schema")
        self.chameleon("add_source", "--source", "mysql")
        self.chameleon("init_replica", "--source", "mysql")

    def command(self) -> tuple[list[str], dict[str, str]]:
        return (
            [
                str(self.venv / "bin/chameleon"),
                "start_replica",
                "--config",
                "bench",
                "--source",
                "mysql",
                "--debug",
            ],
            {"HOME": str(self.home)},
        )

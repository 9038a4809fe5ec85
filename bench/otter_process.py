"""``otter-run run`` as a measured subprocess of the benchmark, with its pipeline YAML."""

from __future__ import annotations

import compileall
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from procstat import ProcessTreeMeter, log
from workloads import SCHEMA

from otter_core.testing.mariadb import OTTER_PASSWORD, OTTER_USER, MariaDBServer


def compile_bytecode() -> None:
    """Compile otter's modules as a pip install does: an editable install under PYTHONDONTWRITEBYTECODE
    compiles them again in every otter-run and selector process (~0.12 s each, measured)."""
    root = Path(__file__).resolve().parent.parent
    for part in ("otter_core", "plugins", "contrib"):
        compileall.compile_dir(str(root / part), quiet=2, workers=0)


class OtterProcess:
    """``python -m otter_core.cli run CONFIG`` in its own session; stopped by its PID."""

    def __init__(
        self,
        workdir: Path,
        tag: str,
        source: MariaDBServer,
        target: MariaDBServer,
        start: tuple[str, int],
        params: dict[str, Any],
        log_level: str,
        profile_dir: str | None = None,
    ) -> None:
        self.dir = workdir / f"otter-{tag}"
        self.dir.mkdir(parents=True)
        self.state_dir = self.dir / "state"
        self.config = self.dir / "pipeline.yaml"
        self.log_path = self.dir / "otter-run.log"
        self.state_file = self.state_dir / "bench" / "oneway.position.json"
        self.status_path = self.dir / "status.json"
        self.config.write_text(_pipeline_yaml(source, target, start, params))
        self.log_level = log_level
        self.process: subprocess.Popen | None = None
        self.meter: ProcessTreeMeter | None = None
        self.started_at = 0.0
        self._log_read = 0
        self.profile_dir = profile_dir
        self.profiler: subprocess.Popen | None = None

    def start(self) -> None:
        self._log = open(self.log_path, "wb")  # closed in stop()
        self.started_at = time.perf_counter()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "otter_core.cli",
                "--log-level",
                self.log_level,
                "run",
                str(self.config),
                "--state-dir",
                str(self.state_dir),
                "--progress-interval",
                "0.1",
                "--status-file",
                str(self.status_path),
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.meter = ProcessTreeMeter(self.process.pid)
        if self.profile_dir:  # py-spy (pip install py-spy): every thread of otter-run and its children
            Path(self.profile_dir).mkdir(parents=True, exist_ok=True)
            out = Path(self.profile_dir) / f"{self.dir.name}.txt"
            self.profiler = subprocess.Popen(
                [
                    shutil.which("py-spy", path=os.path.dirname(sys.executable)) or "py-spy",
                    "record",
                    "--subprocesses",
                    *(["--idle"] if os.environ.get("OTTER_BENCH_WALL_PROFILE") else ["--gil"]),
                    "--rate",
                    "200",
                    "--format",
                    "raw",
                    "--nonblocking",
                    "--output",
                    str(out),
                    "--pid",
                    str(self.process.pid),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )

    def progress(self) -> list[tuple[float, int]]:
        """(time, rows loaded) from the progress lines otter-run printed since the last call."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self._log_read)
                data = f.read()
        except OSError:
            return []
        cut = data.rfind(b"\n") + 1
        self._log_read += cut
        now = time.perf_counter()
        return [(now, int(m)) for m in re.findall(rb"rows=(\d+)", data[:cut])]

    def pipeline_status(self) -> dict[str, Any]:
        """The pipeline's last status (written every second): batches, rows, stage_ms_total, ..."""
        try:
            data = json.loads(self.status_path.read_text())
        except (OSError, ValueError):
            return {}
        return next(iter(data.get("pipelines") or [{}]))

    def acked(self) -> tuple[str, int] | None:
        try:
            pos = json.loads(self.state_file.read_text())["position"]
        except (OSError, ValueError, KeyError):
            return None
        if not pos.get("file") or pos.get("pos") is None:
            return None
        return str(pos["file"]), int(pos["pos"])

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self, timeout: float = 60.0) -> int | None:
        if self.process is None:
            return None
        if self.profiler is not None:  # py-spy writes its output when interrupted
            self.profiler.send_signal(signal.SIGINT)
            try:
                self.profiler.wait(30)
            except subprocess.TimeoutExpired:
                self.profiler.kill()
            self.profiler = None
        if self.process.poll() is None:
            try:
                os.kill(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                log(
                    f"otter-run (pid {self.process.pid}) did not stop in {timeout:.0f}s: killing its process group"
                )
            except ProcessLookupError:
                pass
        # the selector child and multiprocessing's helper live in otter-run's session: end them too
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            pass
        self._log.close()
        return self.process.returncode


def _pipeline_yaml(
    source: MariaDBServer, target: MariaDBServer, start: tuple[str, int], params: dict[str, Any]
) -> str:
    def src(server: MariaDBServer) -> str:
        return (
            f"{{type: mysql, host: 127.0.0.1, port: {server.port}, user: {OTTER_USER}, "
            f"password: {OTTER_PASSWORD}}}"
        )

    param_text = ", ".join(
        f"{k}: {json.dumps(v) if isinstance(v, str) else str(v).lower() if isinstance(v, bool) else v}"
        for k, v in params.items()
    )
    return "\n".join(
        [
            "sources:",
            f"  src: {src(source)}",
            f"  dst: {src(target)}",
            "channels:",
            "  - name: bench",
            "    pipelines:",
            "      - name: oneway",
            "        source: src",
            "        target: dst",
            f"        start: {{file: {start[0]}, pos: {start[1]}}}",
            "        pairs:",
            f'          - {{source: "{SCHEMA}.*", target: "{SCHEMA}.*"}}',
            f"        parameters: {{{param_text}}}",
            "",
        ]
    )

"""``otter-run manager``: --init-admin and serving the API with uvicorn."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

OTTER_RUN = [sys.executable, "-m", "otter_core.cli"]
ADMIN_PASSWORD = "serve-password"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def init_admin(state_dir: Path) -> None:
    """``otter-run manager --init-admin boss``, the password (ADMIN_PASSWORD) from the environment."""
    subprocess.run(
        [*OTTER_RUN, "manager", "--state-dir", str(state_dir), "--init-admin", "boss"],
        env={**os.environ, "OTTER_MANAGER_PASSWORD": ADMIN_PASSWORD},
        check=True,
        capture_output=True,
        timeout=120,
    )


def serve(state_dir: Path, *options: str) -> tuple[subprocess.Popen, str]:
    """``otter-run manager`` serving ``state_dir`` on a free port: the process and its base URL."""
    port = _free_port()
    server = subprocess.Popen(
        [*OTTER_RUN, "manager", "--state-dir", str(state_dir), "--port", str(port), *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return server, f"http://127.0.0.1:{port}"


def first_answer(server: subprocess.Popen, url: str) -> httpx.Response:
    """GET ``url`` until the served manager answers (60 s at most; its output if it exits first)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            return httpx.get(url, timeout=5)
        except httpx.TransportError:
            assert server.poll() is None, server.stdout.read()
            assert time.monotonic() < deadline, "the manager did not answer within 60 s"
            time.sleep(0.3)


def test_init_admin_reads_the_password_from_stdin_and_never_prints_it(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "OTTER_MANAGER_PASSWORD"}
    done = subprocess.run(
        [*OTTER_RUN, "manager", "--state-dir", str(tmp_path), "--init-admin", "root"],
        input="a-long-password\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "'root' is ready" in done.stdout
    assert "a-long-password" not in done.stdout + done.stderr
    short = subprocess.run(
        [*OTTER_RUN, "manager", "--state-dir", str(tmp_path), "--init-admin", "root"],
        input="short\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert short.returncode == 2 and "password: at least 8 characters" in short.stderr


def test_manager_command_serves_the_api_and_the_admin_can_log_in(tmp_path):
    init_admin(tmp_path)
    server, base = serve(tmp_path)
    try:
        assert first_answer(server, f"{base}/api/session").json()["logged_in"] is False
        with httpx.Client(base_url=base, timeout=10) as client:
            login = client.post("/api/login", json={"username": "boss", "password": ADMIN_PASSWORD})
            assert login.status_code == 200 and login.json()["role"] == "ADMIN"
            assert client.get("/api/channels").json() == []
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
    assert ADMIN_PASSWORD not in output


def test_otter_run_manager_comes_from_the_otter_manager_plugin(tmp_path):
    """``manager`` is contributed through ``otter_cli_commands`` (entry point ``otter.cli: manager``): with
    the plugin importable its options are there; with ``otter_manager`` unimportable (here: shadowed by a
    broken package) the command still exists and names the package to install, whatever arguments it got."""
    helped = subprocess.run([*OTTER_RUN, "manager", "--help"], capture_output=True, text=True, timeout=120)
    assert helped.returncode == 0 and "--init-admin" in helped.stdout, helped.stderr
    shadow = tmp_path / "otter_manager"
    shadow.mkdir()
    (shadow / "__init__.py").write_text("raise ImportError('otter-manager is not installed')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    env.pop("PYTHONSAFEPATH", None)
    done = subprocess.run(
        [*OTTER_RUN, "manager", "--state-dir", str(tmp_path / "state"), "--port", "0"],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "the web manager (console and JSON API) needs the otter-manager plugin" in done.stderr
    assert "`pip install otter-manager`" in done.stderr
    assert not (tmp_path / "state").exists()

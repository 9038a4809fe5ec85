"""``otter-run manager``: --init-admin and serving the API with uvicorn."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx

OTTER_RUN = [sys.executable, "-m", "otter_core.cli"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
    env = {**os.environ, "OTTER_MANAGER_PASSWORD": "serve-password"}
    subprocess.run(
        [*OTTER_RUN, "manager", "--state-dir", str(tmp_path), "--init-admin", "boss"],
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    port = _free_port()
    server = subprocess.Popen(
        [*OTTER_RUN, "manager", "--state-dir", str(tmp_path), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                assert httpx.get(f"{base}/api/session", timeout=5).json()["logged_in"] is False
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stdout.read()
                assert time.monotonic() < deadline, "the manager did not answer within 60 s"
                time.sleep(0.3)
        with httpx.Client(base_url=base, timeout=10) as client:
            login = client.post("/api/login", json={"username": "boss", "password": "serve-password"})
            assert login.status_code == 200 and login.json()["role"] == "ADMIN"
            assert client.get("/api/channels").json() == []
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
    assert "serve-password" not in output


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

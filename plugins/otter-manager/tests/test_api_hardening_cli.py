"""``otter-run manager`` behind a TLS proxy: --forwarded-allow-ips, and the state kept private on disk."""

from __future__ import annotations

import os
import stat
import subprocess

import httpx
from test_api_cli import ADMIN_PASSWORD, OTTER_RUN, first_answer, init_admin, serve


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_init_admin_leaves_the_store_and_its_folder_private(tmp_path):
    state = tmp_path / "state"
    old = os.umask(0o022)
    try:
        init_admin(state)
    finally:
        os.umask(old)
    assert mode(state) == 0o700
    store = [p for p in state.iterdir() if p.name.startswith("manager.db")]
    assert store and all(mode(p) == 0o600 for p in store), {p.name: oct(mode(p)) for p in store}


def test_an_existing_world_readable_store_is_made_private(tmp_path):
    from otter_manager.settings import load_settings

    state = tmp_path / "state"
    state.mkdir(mode=0o755)
    (state / "manager.db").touch(mode=0o644)
    (state / "metrics.token").write_text("token-from-an-older-version\n")
    os.chmod(state / "metrics.token", 0o644)
    os.chmod(state, 0o755)
    load_settings(state)
    assert mode(state) == 0o700 and mode(state / "manager.db") == 0o600

    from otter_manager.ops.metrics import metrics_token

    assert metrics_token(state) == "token-from-an-older-version"
    assert mode(state / "metrics.token") == 0o600


def test_a_bad_forwarded_allow_ips_entry_stops_the_manager_with_its_name(tmp_path):
    done = subprocess.run(
        [*OTTER_RUN, "manager", "--state-dir", str(tmp_path), "--forwarded-allow-ips", "10.0.0.1,proxy.lan"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "'proxy.lan'" in done.stderr and "--forwarded-allow-ips" in done.stderr


def test_the_served_manager_believes_only_its_trusted_proxy(tmp_path):
    init_admin(tmp_path)
    server, base = serve(tmp_path, "--forwarded-allow-ips", "127.0.0.1")
    try:
        page = first_answer(server, f"{base}/login")
        assert page.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        body = {"username": "boss", "password": ADMIN_PASSWORD}
        with httpx.Client(base_url=base, timeout=10) as client:
            tls = client.post("/api/login", json=body, headers={"X-Forwarded-Proto": "https"})
            assert tls.status_code == 200 and "; secure" in tls.headers["set-cookie"].lower()
            codes = [
                client.post(
                    "/api/login",
                    json={"username": "boss", "password": "wrong-one"},
                    headers={"X-Forwarded-For": "203.0.113.9"},
                ).status_code
                for _ in range(6)
            ]
            assert codes == [401] * 5 + [429]
            other = client.post("/api/login", json=body, headers={"X-Forwarded-For": "198.51.100.1"})
            assert other.status_code == 200  # another client behind the same proxy is not locked out
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
    assert ADMIN_PASSWORD not in output

"""A channel outlives its manager: a real `otter-run manager` starts it, is killed with SIGKILL, rows keep
flowing, and the restarted manager finds the same process running and stops it."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import pytest
from ops_steps import PAIRS, insert, target_count, wait_for
from web_harness import WEB_ADMIN, WEB_ADMIN_PASSWORD, ManagerProcess

from otter_core.testing.harness import pipeline_yaml

pytestmark = pytest.mark.usefixtures("clean_databases")


def running(pid: int) -> bool:
    """True while ``pid`` runs (a zombie left to a parent that does not reap it does not count)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def logged_in(manager: ManagerProcess) -> httpx.Client:
    client = httpx.Client(base_url=manager.url, timeout=60)
    response = client.post("/api/login", json={"username": WEB_ADMIN, "password": WEB_ADMIN_PASSWORD})
    assert response.status_code == 200, response.text
    client.headers["X-CSRF-Token"] = response.json()["csrf_token"]
    return client


def test_channel_keeps_running_while_the_manager_is_down_and_is_found_again(
    tmp_path, mariadb_source, mariadb_target
):
    for server in (mariadb_source, mariadb_target):
        server.execute(
            "CREATE DATABASE shop", "CREATE TABLE shop.orders (id INT PRIMARY KEY, note VARCHAR(50))"
        )
    file, pos = mariadb_source.binlog_position()
    text = pipeline_yaml(
        mariadb_source, mariadb_target, PAIRS, start={"file": file, "pos": pos}, channel="shop"
    )
    manager = ManagerProcess(tmp_path / "state")
    manager.init_admin()
    manager.start()
    try:
        client = logged_in(manager)
        assert client.post("/api/config/import", content=text).status_code == 200
        channel_id = client.get("/api/channels").json()[0]["id"]
        pid = client.post(f"/api/channels/{channel_id}/start").json()["pid"]
        client.close()
        insert(mariadb_source, range(1, 11))
        wait_for(lambda: target_count(mariadb_target) == 10, "rows while the manager runs")
        manager.process.send_signal(signal.SIGKILL)
        manager.process.wait(30)
        insert(mariadb_source, range(11, 21))
        wait_for(lambda: target_count(mariadb_target) == 20, "rows while the manager is down")
        assert running(pid)  # the channel's process is the one the first manager started

        manager.start()
        client = logged_in(manager)  # the session secret survives the restart; a new login anyway
        [status] = client.get("/api/status").json()
        assert (status["channel"], status["state"], status["pid"]) == ("shop", "RUNNING", pid)
        stopped = client.post(f"/api/channels/{channel_id}/stop")
        assert stopped.status_code == 200 and stopped.json()["state"] == "STOPPED"
        client.close()
        assert not running(pid)
    finally:
        manager.stop()

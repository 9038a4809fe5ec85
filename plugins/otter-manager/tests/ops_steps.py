"""Helpers of the ops API tests: a channel imported through the API between the test MariaDB servers,
waiting, and stopping what a test started."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from otter_core.testing.harness import pipeline_yaml
from otter_core.testing.twoway import make_table, twoway_yaml

PAIRS = [{"source": "shop.orders", "target": "shop.orders"}]


def wait_for(condition, what, timeout=90.0, interval=0.25):
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"{what} not reached after {timeout}s (last: {value!r})")


def target_count(server):
    return server.execute("SELECT COUNT(*) FROM shop.orders")[0][0]


def insert(server, ids):
    server.execute("INSERT INTO shop.orders VALUES " + ", ".join(f"({i}, 'n{i}')" for i in ids))


def import_shop(admin, source, target, **parameters):
    """Tables shop.orders on both servers, channel ``shop`` (pipeline ``src-to-dst``) imported through the
    API, starting at the source's current position; returns (channel id, pipeline id)."""
    for server in (source, target):
        server.execute(
            "CREATE DATABASE shop", "CREATE TABLE shop.orders (id INT PRIMARY KEY, note VARCHAR(50))"
        )
    file, pos = source.binlog_position()
    text = pipeline_yaml(
        source, target, PAIRS, start={"file": file, "pos": pos}, channel="shop", **parameters
    )
    response = admin.post("/api/config/import", content=text, headers={"Content-Type": "text/plain"})
    assert response.status_code == 200, response.text
    channel = next(c for c in admin.get("/api/channels").json() if c["name"] == "shop")
    pipeline = next(p for p in admin.get("/api/pipelines").json() if p["channel_id"] == channel["id"])
    return channel["id"], pipeline["id"]


@pytest.fixture
def fast_collector(monkeypatch):
    """The collector samples twice a second (set before the app starts)."""
    monkeypatch.setenv("OTTER_MANAGER_SAMPLE_SECONDS", "0.5")


@pytest.fixture
def stop_channels(manager_app):
    """Stop every channel process the test's manager started, even when the test failed."""
    yield
    runtime = getattr(manager_app.state, "runtime", None)
    if runtime is None:
        return
    for name in runtime.channels():
        if runtime.pid(name) is not None:
            runtime.stop(name, timeout=30)


def manual_twoway_channel(a, b, tmp_path) -> str:
    """The YAML of a two-way channel a<->b with the ``manual`` policy and no home, its table made on both
    sides and its system tables created by ``otter-run init-db``."""
    make_table(a, b)
    text = twoway_yaml(a, b, "manual", home=False)
    (tmp_path / "ab.yaml").write_text(text)
    done = subprocess.run(
        [str(Path(sys.executable).parent / "otter-run"), "init-db", str(tmp_path / "ab.yaml")],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    return text

"""The initial load's progress (rows, rows/s, ETA) reaches the manager: in /api/status and on the channel page."""

from __future__ import annotations

import pytest
import yaml
from ops_steps import PAIRS, fast_collector, stop_channels, target_count, wait_for  # noqa: F401  -- pytest fixtures, used by parameter name

from otter_core.testing.harness import pipeline_yaml

pytestmark = pytest.mark.usefixtures("clean_databases", "fast_collector", "stop_channels")
ROWS = 3000


def import_with_snapshot(admin, source, target):
    for server in (source, target):
        server.execute(
            "CREATE DATABASE shop", "CREATE TABLE shop.orders (id INT PRIMARY KEY, note VARCHAR(50))"
        )
    source.execute(
        "INSERT INTO shop.orders VALUES " + ", ".join(f"({i}, 'n{i}')" for i in range(1, ROWS + 1))
    )
    doc = yaml.safe_load(pipeline_yaml(source, target, PAIRS, start="current", channel="shop"))
    doc["channels"][0]["pipelines"][0]["snapshot"] = {"chunk_rows": 200}
    response = admin.post(
        "/api/config/import",
        content=yaml.safe_dump(doc, sort_keys=False),
        headers={"Content-Type": "text/plain"},
    )
    assert response.status_code == 200, response.text
    return next(c for c in admin.get("/api/channels").json() if c["name"] == "shop")["id"]


def test_initial_load_progress_shows_in_status_and_on_the_channel_page(
    admin, operator, mariadb_source, mariadb_target
):
    channel_id = import_with_snapshot(admin, mariadb_source, mariadb_target)
    assert operator.post(f"/api/channels/{channel_id}/start").status_code == 200
    wait_for(lambda: target_count(mariadb_target) == ROWS, "the existing rows copied by the initial load")

    def snapshot():
        row = next(s for s in operator.get("/api/status").json() if s["channel_id"] == channel_id)
        return (row["pipelines"] or [{}])[0].get("snapshot") or {}

    done = wait_for(lambda: (s := snapshot()).get("state") == "done" and s, "the load reported done")
    assert (
        done["rows"] == ROWS and done["percent"] == 100.0 and done["tables_done"] == done["tables_total"] == 1
    )
    assert done["chunks"] >= ROWS // 200 and done["rows_per_s"] > 0
    page = operator.get(f"/channels/{channel_id}")
    assert page.status_code == 200
    assert 'data-testid="snapshot-progress"' in page.text
    assert "Initial load: done" in page.text and f"{ROWS:,} of ~{ROWS:,} rows" in page.text
    assert '<progress max="100" value="100.0"' in page.text

"""Ops API: an OPERATOR starts, pauses and stops a channel whose rows flow between real MariaDB servers;
status, history, nodes, rejects, position resets and /metrics; bad ids, states and bodies give clear 4xx."""

from __future__ import annotations

import time

import pytest
from ops_steps import (  # noqa: F401  -- pytest fixtures, used by parameter name
    fast_collector,
    import_shop,
    insert,
    stop_channels,
    target_count,
    wait_for,
)
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.usefixtures("clean_databases", "fast_collector", "stop_channels")


def figures(client, channel_id):
    row = next(s for s in client.get("/api/status").json() if s["channel_id"] == channel_id)
    return row, (row["pipelines"][0] if row["pipelines"] else {})


def test_operator_runs_a_channel_and_history_records_rows_and_delay(
    admin, operator, mariadb_source, mariadb_target
):
    channel_id, pipeline_id = import_shop(admin, mariadb_source, mariadb_target, skip_ddl=True)
    started = operator.post(f"/api/channels/{channel_id}/start")
    assert started.status_code == 200, started.text
    assert started.json()["state"] == "RUNNING"
    insert(mariadb_source, range(1, 201))
    wait_for(lambda: target_count(mariadb_target) == 200, "200 rows on the target")
    _, row = wait_for(
        lambda: (f := figures(operator, channel_id))[1].get("rows") == 200 and f, "status figures"
    )
    assert row["pipeline_id"] == pipeline_id and row["tables"] == {"shop.orders": {"I": 200, "U": 0, "D": 0}}
    history = wait_for(
        lambda: [s for s in operator.get(f"/api/pipelines/{pipeline_id}/history").json() if s["rows"] == 200],
        "a sample with the 200 rows",
    )
    assert {"delay_s", "rows_per_s", "bytes", "stage_ms", "position"} <= set(history[-1])
    assert history[-1]["position_detail"]["file"] and history[-1]["tables"]["shop.orders"]["I"] == 200
    later = operator.get(f"/api/pipelines/{pipeline_id}/history", params={"since": history[-1]["at"]}).json()
    assert all(s["at"] > history[-1]["at"] for s in later)

    mariadb_source.execute("ALTER TABLE shop.orders COMMENT 'orders'")  # skip_ddl: rejected on purpose
    rejects = wait_for(
        lambda: operator.get("/api/rejects", params={"pipeline_id": pipeline_id}).json(), "a reject"
    )
    assert rejects[0]["reason"] == "skip_ddl" and "COMMENT 'orders'" in rejects[0]["ddl"]

    [node] = operator.get("/api/nodes").json()
    assert node["alive"] and node["channels"] == ["shop"]
    paused = operator.post(f"/api/channels/{channel_id}/pause")
    assert paused.status_code == 200 and paused.json()["state"] == "PAUSED"
    wait_for(lambda: figures(operator, channel_id)[1].get("state") == "paused", "pipeline paused")
    insert(mariadb_source, range(201, 211))
    time.sleep(2)
    assert target_count(mariadb_target) == 200
    assert operator.post(f"/api/channels/{channel_id}/start").json()["state"] == "RUNNING"
    wait_for(lambda: target_count(mariadb_target) == 210, "rows written while paused")
    wait_for(
        lambda: [
            s
            for s in operator.get(f"/api/pipelines/{pipeline_id}/history").json()
            if s["delay_s"] >= 2.0 and s["rows"] == 210
        ],
        "a sample with the delay of the paused rows",
    )
    timed = [
        s["stage_ms"] for s in operator.get(f"/api/pipelines/{pipeline_id}/history").json() if s["stage_ms"]
    ]
    assert timed and set(timed[-1]) == {"select", "extract", "transform", "load"} and timed[-1]["load"] > 0
    stopped = operator.post(f"/api/channels/{channel_id}/stop")
    assert stopped.status_code == 200 and stopped.json()["state"] == "STOPPED"
    time.sleep(1)
    sampled = len(operator.get(f"/api/pipelines/{pipeline_id}/history").json())
    time.sleep(1.5)
    assert (
        len(operator.get(f"/api/pipelines/{pipeline_id}/history").json()) == sampled
    )  # no samples when stopped
    actions = [(e["username"], e["action"], e["object"]) for e in admin.get("/api/audit").json()]
    assert {
        ("oper", "start", "channel shop"),
        ("oper", "pause", "channel shop"),
        ("oper", "stop", "channel shop"),
    } <= set(actions)


def test_reset_needs_a_stopped_channel_and_replays_from_the_position(
    admin, operator, mariadb_source, mariadb_target
):
    channel_id, pipeline_id = import_shop(admin, mariadb_source, mariadb_target)
    operator.post(f"/api/channels/{channel_id}/start")
    insert(mariadb_source, range(1, 6))
    file, pos = mariadb_source.binlog_position()
    gtid = mariadb_source.execute("SELECT @@gtid_binlog_pos")[0][0]
    insert(mariadb_source, range(6, 11))
    wait_for(lambda: target_count(mariadb_target) == 10, "10 rows")
    busy = operator.post(f"/api/pipelines/{pipeline_id}/reset", json={"file": file, "pos": pos})
    assert busy.status_code == 409 and "stop it before resetting" in busy.json()["detail"]
    operator.post(f"/api/channels/{channel_id}/stop")
    by_gtid = operator.post(f"/api/pipelines/{pipeline_id}/reset", json={"gtid": gtid})
    assert by_gtid.status_code == 200 and by_gtid.json()["position"]["gtid"] == gtid
    by_time = operator.post(f"/api/pipelines/{pipeline_id}/reset", json={"time": "2000-01-01T00:00:00Z"})
    assert (
        by_time.status_code == 200 and by_time.json()["position"]["pos"] >= 4
    )  # before every binlog: its first
    reset = operator.post(f"/api/pipelines/{pipeline_id}/reset", json={"file": file, "pos": pos})
    assert reset.status_code == 200 and reset.json()["text"] == f"{file}:{pos}"
    mariadb_target.execute("DELETE FROM shop.orders")
    operator.post(f"/api/channels/{channel_id}/start")
    wait_for(lambda: target_count(mariadb_target) == 5, "rows 6-10 replayed")
    assert [r[0] for r in mariadb_target.execute("SELECT id FROM shop.orders ORDER BY id")] == list(
        range(6, 11)
    )


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "position"),
        ({"pos": 1234}, "position"),
        ({"gtid": "zero"}, "gtid"),
        ({"file": "a b", "pos": 4}, "file"),
        ({"file": "mysql-bin.000001", "pos": -1}, "pos"),
        ({"time": "noon"}, "time"),
        ({"file": "mysql-bin.000001", "pos": 4, "time": 5}, "position"),
    ],
)
def test_bad_reset_bodies_are_422_naming_the_field(
    admin, operator, mariadb_source, mariadb_target, body, field
):
    _, pipeline_id = import_shop(admin, mariadb_source, mariadb_target)
    response = operator.post(f"/api/pipelines/{pipeline_id}/reset", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", field]


def test_bad_ids_states_and_requests_are_clear_4xx(
    admin, operator, anonymous, mariadb_source, mariadb_target
):
    channel_id, pipeline_id = import_shop(admin, mariadb_source, mariadb_target)
    assert operator.post("/api/channels/9999/start").json() == {"detail": "channel 9999 does not exist"}
    assert operator.post("/api/channels/9999/start").status_code == 404
    assert operator.post("/api/pipelines/9999/reset", json={"gtid": "0-1-1"}).status_code == 404
    assert operator.get("/api/pipelines/9999/history").status_code == 404
    assert operator.get("/api/rejects", params={"pipeline_id": 9999}).status_code == 404
    assert operator.post("/api/channels/abc/start").status_code == 422
    never = operator.post(f"/api/channels/{channel_id}/pause")
    assert never.status_code == 409 and "is not running: start it first" in never.json()["detail"]
    assert operator.post(f"/api/channels/{channel_id}/stop").status_code == 409
    empty = admin.post("/api/channels", json={"name": "empty"}).json()
    incomplete = operator.post(f"/api/channels/{empty['id']}/start")
    assert incomplete.status_code == 409 and "no pipeline" in incomplete.json()["detail"]
    malformed = operator.post(
        f"/api/pipelines/{pipeline_id}/reset",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert malformed.status_code == 400 and "malformed JSON" in malformed.json()["detail"]
    bad_since = operator.get(f"/api/pipelines/{pipeline_id}/history", params={"since": "yesterday"})
    assert bad_since.status_code == 422 and bad_since.json()["detail"][0]["loc"][-1] == "since"
    assert anonymous.post(f"/api/channels/{channel_id}/start").status_code == 401
    assert anonymous.get("/api/status").status_code == 401
    token = operator.headers.pop("X-CSRF-Token")
    assert operator.post(f"/api/channels/{channel_id}/start").status_code == 403
    operator.headers["X-CSRF-Token"] = token


def test_metrics_need_the_token_or_a_session_and_parse_as_prometheus_text(
    admin, anonymous, manager_app, mariadb_source, mariadb_target
):
    channel_id, _ = import_shop(admin, mariadb_source, mariadb_target)
    admin.post(f"/api/channels/{channel_id}/start")
    insert(mariadb_source, range(1, 31))
    wait_for(lambda: figures(admin, channel_id)[1].get("rows") == 30, "30 rows loaded")
    assert anonymous.get("/metrics").status_code == 401
    assert anonymous.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    token = (manager_app.state.settings.state_dir / "metrics.token").read_text().strip()
    assert oct((manager_app.state.settings.state_dir / "metrics.token").stat().st_mode & 0o777) == "0o600"
    scraped = anonymous.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert scraped.status_code == 200 and scraped.headers["content-type"].startswith("text/plain")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(scraped.text)
        for s in family.samples
    }
    labels = (("channel", "shop"), ("pipeline", "src-to-dst"))
    assert samples[("otter_pipeline_rows_total", labels)] == 30
    assert (
        samples[
            ("otter_table_events_total", tuple(sorted(labels + (("table", "shop.orders"), ("type", "I")))))
        ]
        == 30
    )
    assert samples[("otter_channel_state", (("channel", "shop"), ("state", "RUNNING")))] == 1
    assert ("otter_pipeline_delay_seconds", labels) in samples
    assert samples[("otter_pipeline_state", tuple(sorted(labels + (("state", "running"),))))] == 1
    assert samples[("otter_pipeline_state", tuple(sorted(labels + (("state", "retrying"),))))] == 0
    assert samples[("otter_pipeline_retry_attempt", labels)] == 0
    assert admin.get("/metrics").status_code == 200  # a logged-in session

"""Conflicts API: a two-way channel with the manual policy, imported and started through the API, parks a
conflict made on purpose; an OPERATOR lists, shows and resolves it, and both sides converge."""

from __future__ import annotations

import pytest
from ops_steps import fast_collector, manual_twoway_channel, stop_channels, wait_for  # noqa: F401  -- pytest fixtures, used by parameter name

from otter_core.testing.twoway import SELECT_ROWS

pytestmark = pytest.mark.usefixtures("clean_databases", "fast_collector", "stop_channels")


def pipeline_states(client, channel_id):
    row = next(s for s in client.get("/api/status").json() if s["channel_id"] == channel_id)
    return [p.get("state") for p in row["pipelines"]]


def parked(client, channel_id):
    response = client.get("/api/conflicts", params={"channel_id": channel_id, "status": "parked"})
    assert response.status_code == 200, response.text
    return response.json()


def test_operator_resolves_a_parked_conflict_and_both_sides_converge(
    admin, operator, mariadb_source, mariadb_target, tmp_path
):
    a, b = mariadb_source, mariadb_target
    text = manual_twoway_channel(a, b, tmp_path)
    assert admin.post("/api/config/import", content=text).status_code == 200
    channel_id = next(c["id"] for c in admin.get("/api/channels").json() if c["name"] == "ab")
    assert operator.post(f"/api/channels/{channel_id}/start").status_code == 200
    a.execute("INSERT INTO shop.c VALUES (1, 'from-a', 1, 1)")
    wait_for(lambda: b.execute(SELECT_ROWS) == a.execute(SELECT_ROWS) != [], "the row on both sides")
    assert operator.post(f"/api/channels/{channel_id}/pause").status_code == 200
    wait_for(lambda: pipeline_states(operator, channel_id) == ["paused", "paused"], "both pipelines paused")
    a.execute("UPDATE shop.c SET status = 'a-wrote' WHERE id = 1")
    b.execute("UPDATE shop.c SET status = 'b-wrote' WHERE id = 1")
    assert operator.post(f"/api/channels/{channel_id}/start").status_code == 200
    conflicts = wait_for(
        lambda: len(parked(operator, channel_id)) == 2 and parked(operator, channel_id),
        "a parked conflict on each side",
    )
    assert {(c["kind"], c["table"], c["channel_id"]) for c in conflicts} == {
        ("update-changed", "c", channel_id)
    }
    first = conflicts[0]
    shown = operator.get(f"/api/conflicts/{first['id']}", params={"channel_id": channel_id})
    assert (
        shown.status_code == 200
        and shown.json()["source_image"]["status"] != shown.json()["target_image"]["status"]
    )

    bad_action = operator.post(
        f"/api/conflicts/{first['id']}/resolve", params={"channel_id": channel_id}, json={"action": "coin"}
    )
    assert bad_action.status_code == 422 and bad_action.json()["detail"][0]["loc"] == ["body", "action"]
    no_image = operator.post(
        f"/api/conflicts/{first['id']}/resolve", params={"channel_id": channel_id}, json={"action": "image"}
    )
    assert no_image.status_code == 422 and no_image.json()["detail"][0]["loc"] == ["body", "image"]
    resolved = operator.post(
        f"/api/conflicts/{first['id']}/resolve",
        params={"channel_id": channel_id},
        json={"action": "image", "image": {"id": 1, "status": "agreed", "amount": 1, "v": 1}},
    )
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["status"] == "resolved" and resolved.json()["resolved_by"] == "oper"
    wait_for(lambda: parked(operator, channel_id) == [], "the other side's park superseded")
    wait_for(lambda: a.execute(SELECT_ROWS) == b.execute(SELECT_ROWS), "both sides equal")
    assert a.execute("SELECT status FROM shop.c WHERE id = 1") == [("agreed",)]
    again = operator.post(
        f"/api/conflicts/{first['id']}/resolve", params={"channel_id": channel_id}, json={"action": "source"}
    )
    assert again.status_code == 409 and "not parked" in again.json()["detail"]
    audited = [(e["username"], e["action"]) for e in admin.get("/api/audit").json()]
    assert ("oper", "resolve") in audited


def test_conflict_requests_with_bad_ids_or_values_are_4xx(admin, operator):
    assert operator.get("/api/conflicts", params={"channel_id": 777}).status_code == 404
    assert operator.get("/api/conflicts", params={"status": "sleeping"}).json()["detail"][0]["loc"] == [
        "body",
        "status",
    ]
    assert operator.get("/api/conflicts").json() == []  # no channel with a conflict policy
    assert operator.get("/api/conflicts/x:1", params={"channel_id": 777}).status_code == 404
    assert (
        operator.post(
            "/api/conflicts/x:1/resolve", params={"channel_id": 777}, json={"action": "source"}
        ).status_code
        == 404
    )
    assert operator.get("/api/conflicts/x:1").status_code == 422  # channel_id is required

"""Alarms API: rules CRUD (ADMIN; an OPERATOR reads), bad input named by field, SMTP settings that never show
the password, and rules that the collector fires to a real webhook and SMTP server, restarting a killed
channel up to the rule's limit."""

from __future__ import annotations

import os
import signal

import pytest
from ops_steps import (  # noqa: F401  -- pytest fixtures, used by parameter name
    fast_collector,
    import_shop,
    insert,
    stop_channels,
    target_count,
    wait_for,
)
from test_ops_alarms import smtp_server, webhook  # noqa: F401  -- pytest fixtures, used by parameter name

DELAY_RULE = {
    "name": "slow-shop",
    "kind": "delay",
    "threshold": 60,
    "window": "08:00-20:00",
    "channel": "shop",
    "notifiers": [{"type": "webhook", "url": "http://127.0.0.1:9/hook"}],
}


def test_admin_manages_rules_and_an_operator_only_reads_them(admin, operator):
    created = admin.post("/api/alarms", json=DELAY_RULE)
    assert created.status_code == 201, created.text
    rule = created.json()
    assert rule["kind"] == "delay" and rule["enabled"] is True and rule["recover_max"] == 3
    seen = {**rule, "notifiers": [{"type": "webhook", "url": "http://127.0.0.1:9/****"}]}  # masked
    assert operator.get("/api/alarms").json() == [seen]
    assert operator.get(f"/api/alarms/{rule['id']}").json() == seen
    assert operator.post("/api/alarms", json={**DELAY_RULE, "name": "other"}).status_code == 403
    assert operator.patch(f"/api/alarms/{rule['id']}", json={"threshold": 5}).status_code == 403
    assert operator.delete(f"/api/alarms/{rule['id']}").status_code == 403
    patched = admin.patch(f"/api/alarms/{rule['id']}", json={"threshold": 120, "enabled": False})
    assert (
        patched.status_code == 200
        and patched.json()["threshold"] == 120
        and patched.json()["enabled"] is False
    )
    assert admin.post("/api/alarms", json=DELAY_RULE).status_code == 409
    assert admin.delete(f"/api/alarms/{rule['id']}").status_code == 204
    assert admin.get(f"/api/alarms/{rule['id']}").status_code == 404
    assert admin.delete("/api/alarms/4242").json() == {"detail": "alarm rule 4242 does not exist"}
    audited = [(e["action"], e["object"]) for e in admin.get("/api/audit").json()]
    assert ("create", "alarm rule slow-shop") in audited and ("delete", "alarm rule slow-shop") in audited


@pytest.mark.parametrize(
    "change, field",
    [
        ({"kind": "cpu"}, "kind"),
        ({"threshold": 0}, "threshold"),
        ({"threshold": "abc"}, "threshold"),
        ({"window": "8-20"}, "window"),
        ({"kind": "exception", "pattern": ""}, "pattern"),
        ({"kind": "exception", "pattern": "(x"}, "pattern"),
        ({"notifiers": [{"type": "pager"}]}, "notifiers[0].type"),
        ({"notifiers": [{"type": "webhook", "url": "file:///etc/passwd"}]}, "notifiers[0]"),
        ({"notifiers": [{"type": "email", "to": "ops"}]}, "notifiers[0].to"),
        ({"colour": "red"}, "colour"),
        ({"name": "a b"}, "name"),
        ({"recover_max": -1}, "recover_max"),
        ({"auto_recover": "yes"}, "auto_recover"),
    ],
)
def test_bad_rules_are_422_naming_the_field(admin, change, field):
    response = admin.post("/api/alarms", json={**DELAY_RULE, **change})
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", field]


def test_smtp_settings_never_show_the_password(admin, operator):
    assert admin.get("/api/alarm-settings/smtp").json()["password_set"] is False
    saved = admin.put(
        "/api/alarm-settings/smtp",
        json={
            "host": "127.0.0.1",
            "port": 2525,
            "user": "otter",
            "password": "mail-secret-9",
            "tls": "starttls",
        },
    )
    assert saved.status_code == 200 and "mail-secret-9" not in saved.text
    assert saved.json() == {
        "host": "127.0.0.1",
        "port": 2525,
        "user": "otter",
        "password_set": True,
        "tls": "starttls",
        "sender": "otter@localhost",
    }
    assert admin.put("/api/alarm-settings/smtp", json={"tls": "maybe"}).json()["detail"][0]["loc"] == [
        "body",
        "tls",
    ]
    assert admin.put("/api/alarm-settings/smtp", json={"port": 70000}).status_code == 422
    assert admin.put("/api/alarm-settings/smtp", json={"host": "x"}).json()["password_set"] is True  # kept
    assert operator.get("/api/alarm-settings/smtp").status_code == 403
    assert operator.put("/api/alarm-settings/smtp", json={"host": "evil"}).status_code == 403
    assert "mail-secret-9" not in admin.get("/api/audit").text


@pytest.mark.usefixtures("clean_databases", "fast_collector", "stop_channels")
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # the loopback test SMTP server
def test_collector_fires_rules_to_webhook_and_email_and_restarts_a_killed_channel_up_to_the_limit(
    admin, operator, manager_app, mariadb_source, mariadb_target, webhook, smtp_server
):
    url, received = webhook
    controller, box = smtp_server
    admin.put(
        "/api/alarm-settings/smtp",
        json={
            "host": "127.0.0.1",
            "port": controller.port,
            "user": "otter",
            "password": "s3cret",
            "sender": "otter@example.org",
        },
    )
    assert (
        admin.post(
            "/api/alarms",
            json={
                "name": "died",
                "kind": "process_timeout",
                "threshold": 0.5,
                "auto_recover": True,
                "recover_max": 1,
                "notifiers": [{"type": "webhook", "url": url}],
            },
        ).status_code
        == 201
    )
    assert (
        admin.post(
            "/api/alarms",
            json={
                "name": "died-mail",
                "kind": "process_timeout",
                "threshold": 0.5,
                "notifiers": [{"type": "email", "to": ["ops@example.org"]}],
            },
        ).status_code
        == 201
    )
    channel_id, _ = import_shop(admin, mariadb_source, mariadb_target)
    runtime = manager_app.state.runtime
    first_pid = operator.post(f"/api/channels/{channel_id}/start").json()["pid"]
    os.kill(first_pid, signal.SIGKILL)
    restarted = wait_for(
        lambda: [e for e in operator.get("/api/alarm-events").json() if e["rule"] == "died"],
        "the alarm event of the kill",
    )
    assert restarted[0]["action"] == "restarted the channel (1 of 1)" and restarted[0]["failures"] == []
    wait_for(lambda: runtime.pid("shop") not in (None, first_pid), "the channel running again")
    insert(mariadb_source, range(1, 4))
    wait_for(lambda: target_count(mariadb_target) == 3, "rows through the restarted channel")
    wait_for(lambda: len(box.messages) >= 1, "the alarm email")
    assert "Subject: [otter] died-mail: shop" in box.messages[0][2] and box.logins == [("otter", "s3cret")]

    # a rule fires once per episode: the collector must have seen the restarted channel alive (it samples
    # every few seconds) before a second death is a second episode
    wait_for(lambda: not manager_app.state.collector.alarms.firing("shop"), "the first episode over")
    os.kill(runtime.pid("shop"), signal.SIGKILL)
    wait_for(
        lambda: len([e for e in operator.get("/api/alarm-events").json() if e["rule"] == "died"]) == 2,
        "the second alarm event",
    )
    newest = operator.get("/api/alarm-events", params={"limit": 1, "channel": "shop"}).json()
    assert len(newest) == 1
    events = [e for e in operator.get("/api/alarm-events").json() if e["rule"] == "died"]
    assert events[0]["action"] == "not restarted: the limit of 1 restarts per hour is reached", events
    assert runtime.channel_status("shop")["state"] == "DEAD"
    assert [body["action"] for _, _, body in received] == [
        "restarted the channel (1 of 1)",
        "not restarted: the limit of 1 restarts per hour is reached",
    ]
    assert operator.get("/api/alarm-events", params={"limit": 0}).status_code == 422

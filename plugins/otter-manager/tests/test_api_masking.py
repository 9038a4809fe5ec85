"""Secrets masked by kind, not only by key name: webhook URLs and URLs with credentials or tokens are
masked for OPERATORs and in the audit log."""

from __future__ import annotations

from otter_manager.security import mask_secrets

WEBHOOK = "https://hooks.example.org/services/T0001/B0002/xoxSecretPart"
DSN = "postgresql://otter:dsn-pass-9@db.example.org:5432/shop?sslmode=require&api_key=k-123"
RULE = {
    "name": "slow",
    "kind": "delay",
    "threshold": 60,
    "notifiers": [{"type": "webhook", "url": WEBHOOK}, {"type": "log"}],
}


def audit_text(admin) -> str:
    return str(admin.get("/api/audit").json())


def test_a_webhook_url_is_masked_for_an_operator_and_in_the_audit_log(admin, operator):
    rule = admin.post("/api/alarms", json=RULE)
    assert rule.status_code == 201, rule.text
    assert rule.json()["notifiers"][0]["url"] == WEBHOOK  # the ADMIN edits it: shown whole
    seen = operator.get(f"/api/alarms/{rule.json()['id']}").json()["notifiers"][0]["url"]
    assert seen == "https://hooks.example.org/****"
    assert "xoxSecretPart" not in str(operator.get("/api/alarms").json())
    assert "hooks.example.org" in audit_text(admin) and "xoxSecretPart" not in audit_text(admin)
    assert "xoxSecretPart" not in operator.get("/alarms").text  # the page an OPERATOR sees


def test_a_dsn_in_source_options_is_masked_for_an_operator_and_in_the_audit_log(admin, operator):
    body = {"name": "pg", "type": "mysql", "options": {"dsn": DSN, "charset_hint": "utf8"}}
    created = admin.post("/api/sources", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["options"]["dsn"] == DSN
    shown = operator.get(f"/api/sources/{created.json()['id']}").json()["options"]
    assert shown == {
        "dsn": "postgresql://otter:****@db.example.org:5432/shop?sslmode=require&api_key=****",
        "charset_hint": "utf8",
    }
    assert "dsn-pass-9" not in str(operator.get("/api/sources").json())
    assert "dsn-pass-9" not in audit_text(admin) and "k-123" not in audit_text(admin)


def test_mask_url_keeps_what_is_not_secret():
    from otter_manager.security import mask_url

    assert mask_url("https://example.org/status?page=2") == "https://example.org/status?page=2"
    assert mask_url("mysql://root@localhost/db") == "mysql://root@localhost/db"
    assert mask_url("not a url") == "not a url"
    assert mask_secrets({"status_url": "https://x.example/a/b"}) == {"status_url": "https://x.example/a/b"}
    assert mask_secrets({"hook_url": "https://x.example/a/b"}) == {"hook_url": "https://x.example/****"}
    assert mask_secrets({"slack_webhook": "https://x.example/a/b"}) == {
        "slack_webhook": "https://x.example/****"
    }
    assert mask_secrets(["redis://:pw@cache:6379/0"]) == ["redis://:****@cache:6379/0"]

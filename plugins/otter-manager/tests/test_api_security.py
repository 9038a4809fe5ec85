"""Login, sessions, CSRF and roles of the JSON API."""

from __future__ import annotations

import stat

from manager_support import ADMIN_PASSWORD

from otter_manager.settings import load_settings
from otter_manager.store import User


def test_api_refuses_requests_without_login(anonymous):
    response = anonymous.get("/api/sources")
    assert response.status_code == 401
    assert "POST /api/login" in response.json()["detail"]


def test_login_with_wrong_password_is_401_and_names_no_user(anonymous):
    wrong = anonymous.post("/api/login", json={"username": "admin", "password": "nope-nope"})
    unknown = anonymous.post("/api/login", json={"username": "ghost", "password": "nope-nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"detail": "wrong user name or password"}


def test_login_sets_an_httponly_samesite_session_cookie(anonymous):
    response = anonymous.post("/api/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert response.status_code == 200
    cookie = response.headers["set-cookie"].lower()
    assert "otter_manager=" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    assert ADMIN_PASSWORD not in response.text


def test_session_reports_user_role_and_csrf_token(admin):
    body = admin.get("/api/session").json()
    assert body["logged_in"] is True and body["username"] == "admin" and body["role"] == "ADMIN"
    assert body["csrf_token"] == admin.headers["X-CSRF-Token"]


def test_unsafe_request_without_csrf_token_is_403(admin):
    token = admin.headers.pop("X-CSRF-Token")
    response = admin.post("/api/channels", json={"name": "shop"})
    assert response.status_code == 403
    assert "X-CSRF-Token" in response.json()["detail"]
    admin.headers["X-CSRF-Token"] = token[:-2] + "xx"
    assert admin.post("/api/channels", json={"name": "shop"}).status_code == 403
    admin.headers["X-CSRF-Token"] = token
    assert admin.post("/api/channels", json={"name": "shop"}).status_code == 201


def test_operator_reads_config_but_may_not_change_it(operator, admin):
    admin.post("/api/channels", json={"name": "shop"})
    assert operator.get("/api/channels").status_code == 200
    response = operator.post("/api/channels", json={"name": "other"})
    assert response.status_code == 403
    assert "OPERATOR" in response.json()["detail"]
    channel_id = operator.get("/api/channels").json()[0]["id"]
    assert operator.delete(f"/api/channels/{channel_id}").status_code == 403
    assert operator.get("/api/users").status_code == 403


def test_logout_ends_the_session(admin):
    assert admin.post("/api/logout").status_code == 200
    assert admin.get("/api/channels").status_code == 401
    assert admin.get("/api/session").json()["logged_in"] is False


def test_passwords_are_stored_as_argon2_hashes(manager_app):
    with manager_app.state.db.session_scope() as session:
        hashes = [u.password_hash for u in session.query(User)]
    assert hashes and all(h.startswith("$argon2id$") for h in hashes)
    assert not any(ADMIN_PASSWORD in h for h in hashes)


def test_the_state_dir_is_private_and_holds_no_unused_secret(tmp_path):
    """Sessions are server-side: the manager writes no signing secret it would never read."""
    settings = load_settings(tmp_path / "s")
    assert stat.S_IMODE((tmp_path / "s").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "s" / "manager.db").stat().st_mode) == 0o600
    assert not (tmp_path / "s" / "manager.secret").exists()
    assert settings.database_url == f"sqlite:///{tmp_path / 's' / 'manager.db'}"


def test_database_passwords_never_reach_the_log(admin, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    source = admin.post(
        "/api/sources", json={"name": "src", "type": "mysql", "port": 1, "password": "logged-never-1"}
    ).json()
    admin.patch(f"/api/sources/{source['id']}", json={"password": "logged-never-2"})
    admin.post(f"/api/sources/{source['id']}/test")
    admin.post("/api/sources", json={"name": "src", "type": "mysql", "password": "logged-never-3"})  # 409
    text = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert caplog.records, "nothing was logged at DEBUG: the check would be empty"
    assert "logged-never" not in text


def test_a_signed_cookie_is_not_a_login(manager_app):
    """Sessions are stored server-side: a cookie in the old stateless format (signed with any key) or any
    made-up value names no stored session."""
    import base64
    import json

    from fastapi.testclient import TestClient
    from itsdangerous import TimestampSigner

    payload = base64.b64encode(json.dumps({"user_id": 1, "csrf": "x"}).encode())
    for key in ("not-the-manager-secret-" * 2, "x" * 64):
        with TestClient(manager_app) as client:
            client.cookies.set("otter_manager", TimestampSigner(key).sign(payload).decode())
            assert client.get("/api/channels").status_code == 401

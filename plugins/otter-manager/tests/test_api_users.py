"""Users (ADMIN only): create, change role or password, delete, with the last-ADMIN guard."""

from __future__ import annotations

from fastapi.testclient import TestClient
from manager_support import login


def test_admin_creates_an_operator_who_can_log_in(admin, manager_app):
    created = admin.post(
        "/api/users", json={"username": "night-shift", "password": "long-enough-1", "role": "OPERATOR"}
    )
    assert created.status_code == 201, created.text
    assert created.json()["role"] == "OPERATOR" and "password" not in created.json()
    assert "night-shift" in [u["username"] for u in admin.get("/api/users").json()]
    with TestClient(manager_app) as other:
        assert login(other, "night-shift", "long-enough-1").get("/api/session").json()["role"] == "OPERATOR"
    entry = admin.get("/api/audit").json()[0]
    assert entry["object"] == "user night-shift" and entry["detail"]["password"] == "****"


def test_bad_user_fields_are_422_and_duplicates_409(admin):
    short = admin.post("/api/users", json={"username": "x", "password": "short"})
    assert short.status_code == 422 and short.json()["detail"][0]["loc"] == ["body", "password"]
    role = admin.post("/api/users", json={"username": "x", "password": "long-enough-1", "role": "ROOT"})
    assert role.status_code == 422 and role.json()["detail"][0]["loc"] == ["body", "role"]
    name = admin.post("/api/users", json={"username": "bad name!", "password": "long-enough-1"})
    assert name.status_code == 422 and name.json()["detail"][0]["loc"] == ["body", "username"]
    assert (
        admin.post("/api/users", json={"username": "admin", "password": "long-enough-1"}).status_code == 409
    )


def test_change_password_and_role(admin, manager_app):
    user_id = admin.post("/api/users", json={"username": "ops", "password": "long-enough-1"}).json()["id"]
    changed = admin.patch(f"/api/users/{user_id}", json={"password": "another-pass-2", "role": "ADMIN"})
    assert changed.status_code == 200 and changed.json()["role"] == "ADMIN"
    with TestClient(manager_app) as other:
        assert (
            other.post("/api/login", json={"username": "ops", "password": "long-enough-1"}).status_code == 401
        )
        assert login(other, "ops", "another-pass-2").get("/api/users").status_code == 200
    assert admin.patch("/api/users/999", json={"role": "ADMIN"}).status_code == 404


def test_the_last_admin_cannot_be_demoted_or_deleted_and_nobody_deletes_himself(admin):
    me = next(u for u in admin.get("/api/users").json() if u["username"] == "admin")
    demote = admin.patch(f"/api/users/{me['id']}", json={"role": "OPERATOR"})
    assert demote.status_code == 409 and "last ADMIN" in demote.json()["detail"]
    assert admin.delete(f"/api/users/{me['id']}").status_code == 409
    other = admin.post("/api/users", json={"username": "temp", "password": "long-enough-1"}).json()
    assert admin.delete(f"/api/users/{other['id']}").status_code == 204
    assert admin.delete(f"/api/users/{other['id']}").json() == {
        "detail": f"user {other['id']} does not exist"
    }


def test_operator_cannot_manage_users(operator):
    assert operator.get("/api/users").status_code == 403
    assert (
        operator.post(
            "/api/users", json={"username": "me2", "password": "long-enough-1", "role": "ADMIN"}
        ).status_code
        == 403
    )

"""What the manager's tests share beside fixtures: the users' passwords and the API login (imported by
name; a module named ``conftest`` would be ambiguous, every test directory of the repo has one)."""

from __future__ import annotations

from fastapi.testclient import TestClient

ADMIN_PASSWORD = "admin-password-1"
OPERATOR_PASSWORD = "operator-password-1"


def login(client: TestClient, username: str, password: str) -> TestClient:
    """Log ``client`` in and make it send the session's CSRF token with every request."""
    response = client.post("/api/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    client.headers["X-CSRF-Token"] = response.json()["csrf_token"]
    return client

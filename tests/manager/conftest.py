"""Fixtures of the manager tests: API fixtures (a real app on a temp SQLite store, clients logged in per
role) here; the browser tests' fixtures (real manager process, headless Chromium): see web_harness.py."""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi", reason="the manager needs pip install 'otter-core[manager]'")

from fastapi.testclient import TestClient

from otter_core.manager.app import create_app
from otter_core.manager.security import set_user
from otter_core.manager.settings import load_settings
from tests.manager.web_harness import (  # noqa: F401  -- pytest fixtures, used by parameter name
    browser_page,
    chromium_browser,
    manager_server,
    pytest_runtest_makereport,
    screenshots,
)

ADMIN_PASSWORD = "admin-password-1"
OPERATOR_PASSWORD = "operator-password-1"


def login(client: TestClient, username: str, password: str) -> TestClient:
    """Log ``client`` in and make it send the session's CSRF token with every request."""
    response = client.post("/api/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    client.headers["X-CSRF-Token"] = response.json()["csrf_token"]
    return client


@pytest.fixture
def manager_app(tmp_path):
    """The manager app on a fresh state dir, with users ``admin`` (ADMIN) and ``oper`` (OPERATOR)."""
    app = create_app(load_settings(tmp_path / "manager-state"))
    with app.state.db.session_scope() as session:
        set_user(session, "admin", ADMIN_PASSWORD, "ADMIN")
        set_user(session, "oper", OPERATOR_PASSWORD, "OPERATOR")
    yield app
    app.state.db.dispose()


@pytest.fixture
def anonymous(manager_app):
    with TestClient(manager_app) as client:
        yield client


@pytest.fixture
def admin(manager_app):
    with TestClient(manager_app) as client:
        yield login(client, "admin", ADMIN_PASSWORD)


@pytest.fixture
def operator(manager_app):
    with TestClient(manager_app) as client:
        yield login(client, "oper", OPERATOR_PASSWORD)

"""Fixtures of the manager tests: API fixtures (a real app on a temp SQLite store, clients logged in per
role) here; the browser tests' fixtures (real manager process, headless Chromium): see web_harness.py."""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi", reason="the manager needs pip install 'otter-manager'")

from fastapi.testclient import TestClient
from manager_support import ADMIN_PASSWORD, OPERATOR_PASSWORD, login
from web_harness import (  # noqa: F401  -- pytest fixtures, used by parameter name
    browser_page,
    chromium_browser,
    manager_server,
    pytest_runtest_makereport,
    screenshots,
)

from otter_manager.app import create_app
from otter_manager.security import set_user
from otter_manager.settings import load_settings


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

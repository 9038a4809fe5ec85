"""Sessions without a user (a page's CSRF token) are made for anyone who asks: bounded in number and
idle time, while logged-in sessions are never dropped to make room."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from manager_support import ADMIN_PASSWORD, login
from sqlalchemy import func, select

from otter_manager import sessions
from otter_manager.store import LoginSession


def _count(app, anonymous: bool) -> int:
    column = LoginSession.user_id
    where = column.is_(None) if anonymous else column.is_not(None)
    with app.state.db.session_scope() as db:
        return db.scalar(select(func.count()).select_from(LoginSession).where(where)) or 0


def test_cookie_less_requests_cannot_grow_the_store_without_bound(manager_app, monkeypatch):
    monkeypatch.setattr(sessions, "ANONYMOUS_MAX", 5)
    with TestClient(manager_app) as admin:
        login(admin, "admin", ADMIN_PASSWORD)
        for _ in range(12):  # a new client each time: no cookie, a new anonymous session
            with TestClient(manager_app) as client:
                assert client.get("/api/session").json()["logged_in"] is False
        assert _count(manager_app, anonymous=True) == 5
        assert _count(manager_app, anonymous=False) == 1
        assert admin.get("/api/channels").status_code == 200  # the logged-in session was kept


def test_the_latest_anonymous_session_keeps_its_token_and_can_log_in(manager_app, monkeypatch):
    monkeypatch.setattr(sessions, "ANONYMOUS_MAX", 3)
    with TestClient(manager_app) as early:
        token = early.get("/api/session").json()["csrf_token"]
        for _ in range(2):
            with TestClient(manager_app) as other:
                other.get("/api/session")
        assert early.get("/api/session").json()["csrf_token"] == token  # within the bound: kept
        login(early, "admin", ADMIN_PASSWORD)
        assert early.get("/api/channels").status_code == 200


def test_an_idle_anonymous_session_ends_sooner_than_a_login(manager_app):
    with TestClient(manager_app) as client, TestClient(manager_app) as admin:
        token = client.get("/api/session").json()["csrf_token"]
        login(admin, "admin", ADMIN_PASSWORD)
        idle = sessions.ANONYMOUS_IDLE + dt.timedelta(minutes=1)
        with manager_app.state.db.session_scope() as db:  # both sessions seen that long ago
            for row in db.scalars(select(LoginSession)):
                row.seen_at -= idle
        assert client.get("/api/session").json()["csrf_token"] != token  # a new session, a new token
        assert admin.get("/api/channels").status_code == 200

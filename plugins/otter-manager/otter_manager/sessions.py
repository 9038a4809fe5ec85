"""Server-side sessions: the cookie carries a random id, the row in ``manager_session`` the data.

Why not a signed cookie: a signed cookie cannot be taken back, so a saved copy kept working after
logout, a password change or the user's deletion. Here a session ends when its row goes: at logout, when
the user's password, role or existence changes (``end_user_sessions``), after ``session_idle_s`` without a
request and ``session_max_s`` after it began. ``request.session`` stays a dict for the endpoints.

Sessions without a user (a login page's CSRF token) are made by anyone who asks for a page, so they are
bounded: they end after ``ANONYMOUS_IDLE`` without a request, and beyond ``ANONYMOUS_MAX`` rows the least
recently seen go first. A flood of cookie-less requests can then cost a not-yet-logged-in browser its
token (the login form asks again), never a logged-in session nor an unbounded store.

Writes happen after the endpoint finished (its own store transaction is committed by then, so SQLite is
never asked for two writers at once); a response that changes the session is held back until its row is
written, so the browser never sends a cookie whose row does not exist yet.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any, cast

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from otter_manager.store import Database, LoginSession
from otter_manager.store.models import utcnow

SESSION_COOKIE = "otter_manager"
STATE_KEY = "otter.session"
# sent by a page's own background requests (charts.js refreshing parts of the page): they read the session
# and never change the browser's cookie, since by the time such an answer arrives the browser may hold a
# newer one (a logout's, carrying the "logged out" message the next page shows)
BACKGROUND_HEADER = "X-Otter-Refresh"
TOUCH_EVERY = dt.timedelta(seconds=60)
ANONYMOUS_IDLE = dt.timedelta(minutes=15)
ANONYMOUS_MAX = 10_000


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8", "surrogateescape")).hexdigest()


class SessionState:
    """What the middleware knows of one request's session: its row (if any) and what it started with."""

    def __init__(self, id_hash: str | None, data: dict[str, Any], seen_at: dt.datetime | None) -> None:
        self.id_hash = id_hash
        self.loaded = dict(data)
        self.seen_at = seen_at
        self.rotate = False  # a login: the data goes under a new id, the old row is dropped
        self.expired = False  # the cookie named a session that timed out just now: the browser drops it


def rotate_session(request: Request) -> None:
    """Give this request's session a new id when the response is sent (call at login: no fixation)."""
    request.scope[STATE_KEY].rotate = True


def end_user_sessions(db: Session, user_id: int) -> int:
    """End every session of ``user_id`` (in ``db``'s transaction); the number ended."""
    # a DML statement's result is a CursorResult (Session.execute is typed with the general Result)
    result = cast(CursorResult[Any], db.execute(delete(LoginSession).where(LoginSession.user_id == user_id)))
    return result.rowcount or 0


class ServerSessionMiddleware:
    """ASGI middleware putting the stored session of the request's cookie into ``scope["session"]``."""

    def __init__(
        self, app: ASGIApp, db: Database, idle_s: int, max_s: int, secure: bool | None = None
    ) -> None:
        self.app = app
        self.db = db
        self.idle = dt.timedelta(seconds=idle_s)
        self.max = dt.timedelta(seconds=max_s)
        self.max_s = max_s
        self.secure = secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        session_id = connection.cookies.get(SESSION_COOKIE)
        background = BACKGROUND_HEADER in connection.headers
        state = (
            await run_in_threadpool(self._load, session_id) if session_id else SessionState(None, {}, None)
        )
        scope[STATE_KEY] = state
        scope["session"] = dict(state.loaded)
        held: list[Message] = []

        async def send_after_save(message: Message) -> None:
            if message["type"] == "http.response.start" and (background or not self._changed(scope, state)):
                await send(message)
            elif held or message["type"] == "http.response.start":
                held.append(message)
            else:
                await send(message)

        await self.app(scope, receive, send_after_save)
        if held:
            cookie = await run_in_threadpool(self._save, state, scope["session"])
            if cookie:
                MutableHeaders(scope=held[0]).append("set-cookie", self._cookie(scope, *cookie))
            for message in held:
                await send(message)
        elif state.id_hash and state.seen_at and utcnow() - state.seen_at > TOUCH_EVERY:
            await run_in_threadpool(self._touch, state.id_hash)

    def _changed(self, scope: Scope, state: SessionState) -> bool:
        return state.rotate or state.expired or scope["session"] != state.loaded

    def _load(self, session_id: str) -> SessionState:
        """The stored session of ``session_id``. One that timed out is deleted, and the answer drops the
        cookie; one that is gone already (a logout, a password change) leaves the cookie alone: the
        browser may have a newer one by the time this answer arrives."""
        id_hash, now = _hash(session_id), utcnow()
        with self.db.session_scope() as db:
            row = db.get(LoginSession, id_hash)
            if row is None:
                return SessionState(None, {}, None)
            idle = self.idle if row.user_id is not None else min(self.idle, ANONYMOUS_IDLE)
            if now - row.seen_at > idle or now - row.created_at > self.max:
                db.delete(row)
                state = SessionState(None, {}, None)
                state.expired = True
                return state
            data = dict(row.data or {})
            data["user_id"] = row.user_id  # the row's column is the truth (it cascades on delete)
            if data["user_id"] is None:
                del data["user_id"]
            return SessionState(id_hash, data, row.seen_at)

    def _touch(self, id_hash: str) -> None:
        with self.db.session_scope() as db:
            db.execute(update(LoginSession).where(LoginSession.id_hash == id_hash).values(seen_at=utcnow()))

    def _save(self, state: SessionState, data: dict[str, Any]) -> tuple[str, int] | None:
        """Store ``data``; the cookie to set as (value, max-age), ("", 0) to drop it, or None."""
        now = utcnow()
        user_id = data.get("user_id") if isinstance(data.get("user_id"), int) else None
        rest = {k: v for k, v in data.items() if k != "user_id"}
        with self.db.session_scope() as db:
            if state.id_hash and (state.rotate or not data):
                db.execute(delete(LoginSession).where(LoginSession.id_hash == state.id_hash))
            elif state.id_hash:
                # a row ended meanwhile (a logout in another request) is not updated: the session stays
                # ended, and the cookie is left alone (the browser may hold a newer one already)
                db.execute(
                    update(LoginSession)
                    .where(LoginSession.id_hash == state.id_hash)
                    .values(data=rest, user_id=user_id, seen_at=now)
                )
                return None
            if not data:
                return ("", 0) if state.id_hash or state.expired else None
            db.execute(
                delete(LoginSession).where(
                    or_(LoginSession.seen_at < now - self.idle, LoginSession.created_at < now - self.max)
                )
            )
            if user_id is None:
                _bound_anonymous(db, now - min(self.idle, ANONYMOUS_IDLE))
            session_id = secrets.token_urlsafe(32)
            db.add(
                LoginSession(
                    id_hash=_hash(session_id), user_id=user_id, data=rest, created_at=now, seen_at=now
                )
            )
        return session_id, self.max_s

    def _cookie(self, scope: Scope, value: str, max_age: int) -> str:
        secure = self.secure if self.secure is not None else scope.get("scheme") in ("https", "wss")
        parts = [f"{SESSION_COOKIE}={value}", "Path=/", f"Max-Age={max_age}", "HttpOnly", "SameSite=Lax"]
        if not value:
            parts.append("Expires=Thu, 01 Jan 1970 00:00:00 GMT")
        if secure:
            parts.append("Secure")
        return "; ".join(parts)


def _bound_anonymous(db: Session, idle_since: dt.datetime) -> None:
    """Before one more session without a user: drop those idle since ``idle_since``, then the least
    recently seen beyond ``ANONYMOUS_MAX - 1``."""
    anonymous = LoginSession.user_id.is_(None)
    db.execute(delete(LoginSession).where(anonymous, LoginSession.seen_at < idle_since))
    count = db.scalar(select(func.count()).select_from(LoginSession).where(anonymous)) or 0
    excess = count - (ANONYMOUS_MAX - 1)
    if excess > 0:
        # ids first: MariaDB and MySQL refuse LIMIT in an IN subquery
        oldest = select(LoginSession.id_hash).where(anonymous).order_by(LoginSession.seen_at).limit(excess)
        db.execute(delete(LoginSession).where(LoginSession.id_hash.in_(list(db.scalars(oldest)))))

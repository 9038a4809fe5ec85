"""Users, login sessions, CSRF and roles, and the audit log.

Sessions are stored server-side (``sessions.py``: the HttpOnly, SameSite=Lax cookie holds only a random
id) with the user id and a per-session CSRF token. Unsafe requests (POST, PUT, PATCH, DELETE) must carry that token: JSON calls in
the ``X-CSRF-Token`` header (``GET /api/session`` returns it), page forms in a ``csrf_token`` field.
401: not logged in; 403: wrong role or bad CSRF token. Passwords are hashed with argon2 and never logged.
"""

from __future__ import annotations

import hmac
import re
import secrets
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from attrs import frozen
from fastapi import Depends, HTTPException, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from otter_manager.sessions import SESSION_COOKIE, end_user_sessions, rotate_session
from otter_manager.store import ROLES, AuditLog, User, get_db

__all__ = ["SESSION_COOKIE"]
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
MIN_PASSWORD = 8
SECRET_WORDS = ("password", "secret", "token")
MASK = "****"

_hasher = PasswordHasher()


class ValidationProblem(Exception):
    """Bad input for one field: the API answers 422 naming ``field``; pages show it beside the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@frozen
class Actor:
    """The logged-in user of a request."""

    id: int
    username: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "ADMIN"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def check_new_user(username: str, password: str | None, role: str) -> None:
    """Raise ValidationProblem unless the fields make a valid user (``password`` None: unchanged)."""
    if not isinstance(username, str) or not USERNAME.match(username):
        raise ValidationProblem("username", "1-64 letters, digits or . _ @ -")
    if password is not None and (not isinstance(password, str) or len(password) < MIN_PASSWORD):
        raise ValidationProblem("password", f"at least {MIN_PASSWORD} characters")
    if role not in ROLES:
        raise ValidationProblem("role", f"expected one of {', '.join(ROLES)}, got {role!r}")


def set_user(db: Session, username: str, password: str, role: str = "ADMIN") -> User:
    """Create ``username`` or reset its password and role (``otter-run manager --init-admin``)."""
    check_new_user(username, password, role)
    user = db.scalar(select(User).where(User.username == username))
    if user is None:
        user = User(username=username, password_hash=hash_password(password), role=role)
        db.add(user)
    else:
        user.password_hash = hash_password(password)
        user.role = role
        end_user_sessions(db, user.id)  # a reset password must lock out whoever had the old one
    db.flush()
    return user


def authenticate(db: Session, username: str, password: str) -> User | None:
    """The user whose name and password match, else None (same work either way: no user-name oracle)."""
    user = db.scalar(select(User).where(User.username == username))
    if user is None:
        verify_password(_DUMMY_HASH, password)
        return None
    if not verify_password(user.password_hash, password):
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


_DUMMY_HASH = _hasher.hash("not-a-password-of-anyone")


def start_session(request: Request, user: User) -> str:
    """Log ``user`` in on this request's session (a new session id and CSRF token); return the token."""
    rotate_session(request)
    request.session.clear()
    request.session["user_id"] = user.id
    request.session["csrf"] = secrets.token_urlsafe(32)
    return request.session["csrf"]


def end_session(request: Request) -> None:
    """Log out: the stored session is deleted (what the response still keeps, a flash message, goes
    under a new id), so a copy of the cookie is worthless."""
    rotate_session(request)
    request.session.clear()


def csrf_token(request: Request) -> str:
    """The session's CSRF token (made if missing): pages put it into every form."""
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


async def check_csrf(request: Request) -> None:
    """Raise 403 unless an unsafe request carries the session's CSRF token (header or form field)."""
    if request.method not in UNSAFE_METHODS:
        return
    expected = request.session.get("csrf")
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        field = (await request.form()).get(CSRF_FIELD)
        given = field if isinstance(field, str) else None  # a file there is no token
    if not expected or not isinstance(given, str) or not same_secret(expected, given):
        raise HTTPException(
            403,
            f"missing or wrong CSRF token: send the {CSRF_HEADER} header "
            f"(GET /api/session returns it) or the {CSRF_FIELD} form field",
        )


def same_secret(expected: str, given: str) -> bool:
    """Constant-time comparison of two strings of any characters (``hmac.compare_digest`` refuses
    non-ASCII str: an attacker's header must get 403, not a 500)."""
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "surrogateescape"))


def current_user(request: Request, db: Session = Depends(get_db)) -> Actor:
    """The logged-in user; 401 when there is none (or it was deleted)."""
    user_id = request.session.get("user_id")
    user = db.get(User, user_id) if isinstance(user_id, int) else None
    if user is None:
        raise HTTPException(
            401,
            "not logged in: POST /api/login with username and password",
            headers={"WWW-Authenticate": "Session"},
        )
    return Actor(user.id, user.username, user.role)


async def require_operator(request: Request, actor: Actor = Depends(current_user)) -> Actor:
    """Any logged-in user (ADMIN or OPERATOR), with the CSRF token on unsafe requests."""
    await check_csrf(request)
    return actor


async def require_admin(actor: Actor = Depends(require_operator)) -> Actor:
    """An ADMIN (config changes, users); 403 for an OPERATOR."""
    if not actor.is_admin:
        raise HTTPException(
            403, f"user {actor.username!r} is an OPERATOR: only an ADMIN may change the config"
        )
    return actor


SECRET_QUERY = re.compile(r"(pass|secret|token|key|sig|auth|credential)", re.IGNORECASE)
WEBHOOK_KEYS = ("webhook", "hook_url", "webhook_url")


def mask_url(text: str, whole_path: bool = False) -> str:
    """``text`` with the secrets a URL carries masked: the password of ``user:password@``, the values of
    query parameters named like a secret (``token``, ``api_key``, ``sig``...), and with ``whole_path``
    (a webhook, whose path is the secret in practice) everything after the host. Not a URL: unchanged."""
    try:
        parts = urlsplit(text)
    except ValueError:
        return MASK
    if not parts.scheme or not parts.netloc:
        return text
    netloc = parts.netloc
    userinfo, at, host = netloc.rpartition("@")
    if at and ":" in userinfo:
        netloc = f"{userinfo.split(':', 1)[0]}:{MASK}@{host}"
    if whole_path:
        return urlunsplit(
            (parts.scheme, netloc, "/" + MASK if parts.path.strip("/") or parts.query else "", "", "")
        )
    query = "&".join(
        f"{name}={MASK}" if SECRET_QUERY.search(name) and value else (f"{name}={value}" if eq else name)
        for name, eq, value in (pair.partition("=") for pair in parts.query.split("&") if pair)
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _masked(key: Any, value: Any, webhook: bool) -> Any:
    name = str(key).lower()
    if name.endswith(SECRET_WORDS) and isinstance(value, str) and value:
        return MASK
    if isinstance(value, str) and "://" in value:
        return mask_url(value, whole_path=webhook or any(word in name for word in WEBHOOK_KEYS))
    return mask_secrets(value)


def mask_secrets(value: Any) -> Any:
    """``value`` with secrets masked by name and by kind: every mapping entry whose key names a secret
    (``password``, ``*_token``...) is ``****``; in every URL (a DSN, a webhook) the password and secret
    query values are, and of a webhook's URL (``{type: webhook, url}``, a ``*webhook*`` key) all but
    the scheme and host."""
    if isinstance(value, dict):
        webhook = str(value.get("type", "")).lower() == "webhook"
        return {k: _masked(k, v, webhook) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask_secrets(v) for v in value]
    if isinstance(value, str) and "://" in value:
        return mask_url(value)
    return value


def audit(db: Session, actor: Actor | str, action: str, object_name: str, detail: Any = None) -> AuditLog:
    """Record a change (``detail`` with secrets masked) in the session's transaction."""
    entry = AuditLog(
        username=actor if isinstance(actor, str) else actor.username,
        action=action,
        object=object_name[:255],
        detail=mask_secrets(detail or {}),
    )
    db.add(entry)
    return entry

"""Manager users (ADMIN only): list, create, change role or password, delete; the audit log listing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from otter_manager.errors import ConfigConflict
from otter_manager.security import Actor, ValidationProblem, audit, check_new_user, hash_password
from otter_manager.services.common import fetch, only_fields
from otter_manager.sessions import end_user_sessions
from otter_manager.store import AuditLog, User

USER_FIELDS = ("username", "password", "role")


def list_users(db: Session) -> list[User]:
    return list(db.scalars(select(User).order_by(User.username)))


def create_user(db: Session, actor: Actor, data: Any) -> User:
    data = only_fields(data, USER_FIELDS, "user")
    if data.get("password") is None:
        raise ValidationProblem("password", "is required")
    username, role = data.get("username"), data.get("role", "OPERATOR")
    check_new_user(username, data["password"], role)
    if db.scalar(select(User).where(User.username == username)) is not None:
        raise ConfigConflict(f"a user named {username!r} exists already")
    user = User(username=username, password_hash=hash_password(data["password"]), role=role)
    db.add(user)
    db.flush()
    audit(db, actor, "create", f"user {username}", data)
    db.commit()
    return user


def _admins(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(User).where(User.role == "ADMIN")) or 0


def update_user(db: Session, actor: Actor, user_id: Any, data: Any) -> User:
    user = fetch(db, User, user_id, "user")
    data = only_fields(data, ("password", "role"), "user")
    role = data.get("role", user.role)
    check_new_user(user.username, data.get("password"), role)
    if user.role == "ADMIN" and role != "ADMIN" and _admins(db) == 1:
        raise ConfigConflict(f"{user.username!r} is the last ADMIN: make another user ADMIN first")
    if data.get("password") is not None or role != user.role:
        end_user_sessions(db, user.id)  # a new password or role must not leave old logins working
    user.role = role
    if data.get("password") is not None:
        user.password_hash = hash_password(data["password"])
    audit(db, actor, "update", f"user {user.username}", data)
    db.commit()
    return user


def delete_user(db: Session, actor: Actor, user_id: Any) -> None:
    user = fetch(db, User, user_id, "user")
    if user.id == actor.id:
        raise ConfigConflict("you cannot delete yourself: log in as another ADMIN to do it")
    if user.role == "ADMIN" and _admins(db) == 1:
        raise ConfigConflict(f"{user.username!r} is the last ADMIN")
    audit(db, actor, "delete", f"user {user.username}")
    end_user_sessions(db, user.id)
    db.delete(user)
    db.commit()


def list_audit(
    db: Session,
    limit: int = 100,
    before_id: int | None = None,
    object_contains: str | None = None,
    username: str | None = None,
) -> list[AuditLog]:
    """Newest first; page with ``before_id`` (the last id of the previous page)."""
    query = select(AuditLog).order_by(AuditLog.id.desc()).limit(max(1, min(limit, 1000)))
    if before_id is not None:
        query = query.where(AuditLog.id < before_id)
    if object_contains:
        query = query.where(AuditLog.object.contains(object_contains))
    if username:
        query = query.where(AuditLog.username == username)
    return list(db.scalars(query))

"""Manager users (ADMIN only) and the audit log of config changes."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from otter_manager.api.common import ADMIN, CHANGE, NOT_FOUND
from otter_manager.api.schemas import UserIn, UserPatch
from otter_manager.security import Actor, current_user, require_admin
from otter_manager.services import users_service
from otter_manager.services.views import audit_view, user_view
from otter_manager.store import get_db

router = APIRouter(prefix="/api", tags=["users"])


@router.get("/users", dependencies=ADMIN)
def list_users(db: Session = Depends(get_db)) -> list[dict]:
    return [user_view(u) for u in users_service.list_users(db)]


@router.post("/users", status_code=201, responses=CHANGE)
def create_user(body: UserIn, db: Session = Depends(get_db), actor: Actor = Depends(require_admin)) -> dict:
    return user_view(users_service.create_user(db, actor, body.values()))


@router.patch("/users/{user_id}", responses=CHANGE)
def update_user(
    user_id: int, body: UserPatch, db: Session = Depends(get_db), actor: Actor = Depends(require_admin)
) -> dict:
    return user_view(users_service.update_user(db, actor, user_id, body.changes()))


@router.delete("/users/{user_id}", status_code=204, responses=CHANGE)
def delete_user(user_id: int, db: Session = Depends(get_db), actor: Actor = Depends(require_admin)) -> None:
    users_service.delete_user(db, actor, user_id)


@router.get("/audit", responses=NOT_FOUND)
def list_audit(
    limit: int = Query(100, ge=1, le=1000),
    before_id: int | None = None,
    object: str | None = None,
    username: str | None = None,
    db: Session = Depends(get_db),
    _actor: Actor = Depends(current_user),
) -> list[dict]:
    """Config changes, newest first (any logged-in user may read it)."""
    return [audit_view(e) for e in users_service.list_audit(db, limit, before_id, object, username)]

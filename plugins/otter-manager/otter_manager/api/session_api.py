"""Login, logout and the current session (with its CSRF token)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request
from sqlalchemy.orm import Session

from otter_manager.api.schemas import LoginIn
from otter_manager.login_throttle import authenticate_throttled
from otter_manager.security import (
    Actor,
    csrf_token,
    current_user,
    end_session,
    require_operator,
    start_session,
)
from otter_manager.store import User, get_db

router = APIRouter(prefix="/api", tags=["session"])


@router.post(
    "/login",
    responses={
        401: {"description": "wrong user name or password"},
        429: {"description": "too many failed logins: wait Retry-After seconds"},
    },
)
def login(body: LoginIn, request: Request, db: Session = Depends(get_db)) -> dict:
    """Log in; the session cookie is set and the CSRF token returned (send it as X-CSRF-Token).
    After 5 wrong passwords for one user (20 for any) from one address in 5 minutes, answers 429."""
    user = authenticate_throttled(request, db, body.username, body.password)
    if user is None:
        raise HTTPException(401, "wrong user name or password")
    db.commit()
    token = start_session(request, user)
    return {"username": user.username, "role": user.role, "csrf_token": token}


@router.post("/logout")
def logout(request: Request, _actor: Actor = Depends(require_operator)) -> dict:
    end_session(request)
    return {"logged_out": True}


@router.get("/session")
def session(request: Request, db: Session = Depends(get_db)) -> dict:
    """Who is logged in (``logged_in`` false when nobody) and the session's CSRF token."""
    user_id = request.session.get("user_id")
    user = db.get(User, user_id) if isinstance(user_id, int) else None
    if user is None:
        return {"logged_in": False, "csrf_token": csrf_token(request)}
    return {
        "logged_in": True,
        "username": user.username,
        "role": user.role,
        "csrf_token": csrf_token(request),
    }


@router.get("/whoami", include_in_schema=False)
def whoami(actor: Actor = Depends(current_user)) -> dict:
    return {"username": actor.username, "role": actor.role}

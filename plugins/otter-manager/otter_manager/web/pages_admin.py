"""Pages of users (ADMIN only) and the audit log, on mgr-core's users service."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from otter_manager.security import Actor
from otter_manager.services import config_service as config
from otter_manager.services.views import audit_view, user_view
from otter_manager.store import ROLES, get_db
from otter_manager.web import forms
from otter_manager.web.render import (
    apply_change,
    denied,
    form_actor,
    form_data,
    page_actor,
    problem_status,
    redirect,
    render,
)

router = APIRouter(include_in_schema=False)
USERS_CHANGE = "manage users"
AUDIT_PAGE_SIZE = 50


def _users_page(
    request: Request, db: Session, actor: Actor, form: dict | None = None, errors: dict | None = None
) -> HTMLResponse:
    return render(
        request,
        "users.html",
        {
            "active": "users",
            "title": "Users",
            "users": [user_view(u) for u in config.list_users(db)],
            "roles": list(ROLES),
            "form": form or {"role": "OPERATOR"},
            "errors": errors or {},
        },
        actor,
        status_code=problem_status(errors) if errors else 200,
    )


@router.get("/users", response_class=HTMLResponse)
def users_page(request: Request, actor: Actor = Depends(page_actor), db: Session = Depends(get_db)):
    if (refusal := denied(request, actor, USERS_CHANGE)) is not None:
        return refusal
    return _users_page(request, db, actor)


@router.post("/users", response_class=HTMLResponse)
async def users_create(request: Request, actor: Actor = Depends(form_actor), db: Session = Depends(get_db)):
    if (refusal := denied(request, actor, USERS_CHANGE)) is not None:
        return refusal
    form = await form_data(request)
    body = {
        "username": form.get("username", ""),
        "password": form.get("password", ""),
        "role": form.get("role", "OPERATOR"),
    }
    errors = apply_change(
        request, db, lambda: config.create_user(db, actor, body), f"user {body['username']} created"
    )
    shown = {k: v for k, v in form.items() if k != "password"}
    return _users_page(request, db, actor, shown, errors) if errors else redirect("/users")


@router.post("/users/{user_id}", response_class=HTMLResponse)
async def users_update(
    user_id: int, request: Request, actor: Actor = Depends(form_actor), db: Session = Depends(get_db)
):
    """Change a user's role, and the password when one is given."""
    if (refusal := denied(request, actor, USERS_CHANGE)) is not None:
        return refusal
    form = await form_data(request)
    body = forms.without_none({"role": forms.text(form, "role"), "password": forms.text(form, "password")})
    errors = apply_change(request, db, lambda: config.update_user(db, actor, user_id, body), "user saved")
    return _users_page(request, db, actor, None, errors) if errors else redirect("/users")


@router.post("/users/{user_id}/delete", response_class=HTMLResponse)
async def users_delete(
    user_id: int, request: Request, actor: Actor = Depends(form_actor), db: Session = Depends(get_db)
):
    if (refusal := denied(request, actor, USERS_CHANGE)) is not None:
        return refusal
    errors = apply_change(request, db, lambda: config.delete_user(db, actor, user_id), "user deleted")
    return _users_page(request, db, actor, None, errors) if errors else redirect("/users")


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    before_id: int | None = None,
    object: str = "",
    username: str = "",
    actor: Actor = Depends(page_actor),
    db: Session = Depends(get_db),
):
    """Newest changes first, filtered by object text and user; "older" pages by the last id shown."""
    entries: list[dict[str, Any]] = [
        audit_view(e)
        for e in config.list_audit(
            db,
            limit=AUDIT_PAGE_SIZE,
            before_id=before_id,
            object_contains=object or None,
            username=username or None,
        )
    ]
    older = entries[-1]["id"] if len(entries) == AUDIT_PAGE_SIZE else None
    return render(
        request,
        "audit.html",
        {
            "active": "audit",
            "title": "Audit log",
            "entries": entries,
            "older": older,
            "filters": {"object": object, "username": username},
        },
        actor,
    )

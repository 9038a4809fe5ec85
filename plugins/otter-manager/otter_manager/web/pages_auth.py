"""Log in and log out (the pages' side of mgr-core's security module)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from otter_manager.login_throttle import authenticate_throttled
from otter_manager.security import check_csrf, current_user, end_session, start_session
from otter_manager.store import get_db
from otter_manager.web.render import flash, form_data, redirect, render, safe_next

router = APIRouter(include_in_schema=False)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/", db: Session = Depends(get_db)) -> Response:
    if request.session.get("user_id") is not None:
        try:
            current_user(request, db)
            return redirect(safe_next(next))
        except Exception:  # a session of a deleted user: show the form
            pass
    return render(request, "login.html", {"next": safe_next(next), "title": "Log in"})


@router.post("/login", response_class=HTMLResponse)
async def login_submit(request: Request, db: Session = Depends(get_db)) -> Response:
    await check_csrf(request)  # the login form carries the token its GET put into the session
    form = await form_data(request)
    username = form.get("username", "")
    try:
        user = authenticate_throttled(request, db, username, form.get("password", ""))
    except HTTPException as exc:  # 429: too many failed logins
        flash(request, "error", exc.detail)
        return render(
            request,
            "login.html",
            {"next": safe_next(form.get("next")), "username": username},
            status_code=exc.status_code,
        )
    if user is None:
        flash(request, "error", "wrong user name or password")
        return render(
            request,
            "login.html",
            {"next": safe_next(form.get("next")), "username": username},
            status_code=401,
        )
    start_session(request, user)
    return redirect(safe_next(form.get("next")))


@router.post("/logout")
async def logout_submit(request: Request) -> Response:
    await check_csrf(request)
    end_session(request)
    flash(request, "info", "logged out")
    return redirect("/login")

"""What every page shares: who is logged in (else a redirect to the login page), the CSRF check of forms,
flash messages that survive the redirect after a POST, and rendering a template with all of that.

Pages call the same services as the JSON API; this module only adapts their errors to HTML.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from otter_manager import __version__
from otter_manager.errors import ConfigConflict, ObjectNotFound
from otter_manager.security import Actor, ValidationProblem, check_csrf, csrf_token, current_user
from otter_manager.sessions import BACKGROUND_HEADER
from otter_manager.store import get_db

FLASH_KEY = "flash"
REFRESH_HEADER = BACKGROUND_HEADER  # sent by charts.js when it refreshes parts of the page it shows


def page_actor(request: Request, db: Session = Depends(get_db)) -> Actor:
    """The logged-in user of a page; anyone else is sent to the login page (303) and comes back after."""
    try:
        return current_user(request, db)
    except HTTPException:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise HTTPException(
            303, "log in first", headers={"Location": f"/login?next={quote(target)}"}
        ) from None


async def form_actor(request: Request, actor: Actor = Depends(page_actor)) -> Actor:
    """The logged-in user of a form POST whose ``csrf_token`` field matches the session's (else 403)."""
    await check_csrf(request)
    return actor


async def form_data(request: Request) -> dict[str, str]:
    """The submitted form as plain strings, whitespace trimmed; file fields are left out (no page takes files)."""
    form = await request.form()
    return {key: value.strip() for key, value in form.items() if isinstance(value, str)}


def flash(request: Request, kind: str, text: str) -> None:
    """Show ``text`` on the next page rendered for this session (``kind``: ok, error or info)."""
    request.session.setdefault(FLASH_KEY, []).append([kind, text])
    request.session[FLASH_KEY] = request.session[FLASH_KEY]  # mark the session as modified


def redirect(url: str) -> RedirectResponse:
    """Post/Redirect/Get: a form's answer is a 303 to the page that shows the result."""
    return RedirectResponse(url, status_code=303)


def safe_next(target: str | None) -> str:
    """``target`` when it is a path on this site, else ``/`` (no open redirect through ``?next=``)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def static_url(path: str) -> str:
    return f"/static/{path}?v={__version__}"


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    actor: Actor | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """Render ``template`` with the user, the CSRF token, pending flash messages and ``context``. A page's
    background refresh of its own parts (``REFRESH_HEADER``, charts.js) leaves the messages for the next
    page a person sees: it would otherwise take a message such as "logged out" that a form's redirect
    was about to show."""
    templates = request.app.state.templates
    templates.env.globals.setdefault("static_url", static_url)
    values: dict[str, Any] = {
        "user": actor,
        "csrf_token": csrf_token(request),
        "flashes": [] if request.headers.get(REFRESH_HEADER) else request.session.pop(FLASH_KEY, []),
        "errors": {},
    }
    values.update(context or {})
    return templates.TemplateResponse(request, template, values, status_code=status_code)


def denied(request: Request, actor: Actor, what: str) -> HTMLResponse | None:
    """A 403 page when ``actor`` is an OPERATOR (only an ADMIN may ``what``), else None."""
    if actor.is_admin:
        return None
    return render(
        request,
        "error.html",
        {
            "status": 403,
            "heading": "Not allowed",
            "message": f"user {actor.username!r} is an OPERATOR: only an ADMIN may {what}",
        },
        actor,
        status_code=403,
    )


def not_found(request: Request, actor: Actor, message: str) -> HTMLResponse:
    return render(request, "error.html", {"status": 404, "message": message}, actor, status_code=404)


def apply_change(
    request: Request, db: Session, change: Callable[[], Any], done: str | Callable[[], str]
) -> dict[str, str] | None:
    """Run a service call for a form: on success flash ``done`` (or what it returns) and return None; on a problem roll back and
    return ``{field: message}`` for the page to show beside the fields (``_`` for the whole form)."""
    try:
        change()
    except ValidationProblem as problem:
        db.rollback()
        field = problem.field.split("[", 1)[0].split(".", 1)[0]  # processors[1], parameters.batch_size
        return {field: problem.message if field == problem.field else f"{problem.field}: {problem.message}"}
    except ConfigConflict as exc:
        db.rollback()
        return {"_": str(exc)}
    except ObjectNotFound as exc:
        db.rollback()
        return {"_not_found": str(exc)}
    db.commit()  # before the redirect: the next page must see the change (some services only flush)
    flash(request, "ok", done() if callable(done) else done)
    return None


def problem_status(errors: dict[str, str]) -> int:
    """The HTTP status of a form page shown again with ``errors`` (like the API's: 409 clash, 422 bad field)."""
    return 404 if "_not_found" in errors else 409 if "_" in errors else 422

"""Pages of dynamic hooks (otter-dynamic): everyone logged in reads the versions and their source; only an
ADMIN pushes a new version or activates one (the same service as ``/api/dynamic``)."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from otter_manager.errors import ObjectNotFound
from otter_manager.security import Actor
from otter_manager.services import dynamic_service as dynamic
from otter_manager.store import get_db
from otter_manager.web.render import (
    apply_change,
    denied,
    form_actor,
    form_data,
    not_found,
    page_actor,
    problem_status,
    redirect,
    render,
)

router = APIRouter(include_in_schema=False)
# Mounted through the entry point ``otter.manager_routes: dynamic-pages`` (otter-manager's setup.cfg).
NAV = [("Operations", "dynamic", "/dynamic", "Dynamic hooks")]
PUSH = "push or activate dynamic hooks (they run as code in the pipelines)"
KINDS = ["processor", "resolver"]
EXAMPLE = "import attrs\n\n\ndef process(event):\n    return event\n"


def _utc(seconds: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(seconds)) if seconds else ""


def _state_dir(request: Request):
    return request.app.state.settings.state_dir


def _list_page(
    request: Request, actor: Actor, form: dict | None = None, errors: dict | None = None
) -> HTMLResponse:
    try:
        hooks, unavailable = dynamic.list_hooks(_state_dir(request)), ""
    except dynamic.DynamicUnavailable as exc:
        hooks, unavailable = [], str(exc)
    return render(
        request,
        "dynamic.html",
        {
            "active": "dynamic",
            "title": "Dynamic hooks",
            "hooks": hooks,
            "unavailable": unavailable,
            "kinds": KINDS,
            "form": form or {"kind": "processor", "source": EXAMPLE},
            "errors": errors or {},
        },
        actor,
        status_code=problem_status(errors) if errors else 200,
    )


@router.get("/dynamic", response_class=HTMLResponse)
def dynamic_page(request: Request, actor: Actor = Depends(page_actor)):
    return _list_page(request, actor)


@router.post("/dynamic", response_class=HTMLResponse)
async def dynamic_push(request: Request, actor: Actor = Depends(form_actor), db: Session = Depends(get_db)):
    """A new version of the hook named in the form (a syntax error comes back beside the source, with its line)."""
    if (refusal := denied(request, actor, PUSH)) is not None:
        return refusal
    form = await form_data(request)
    name = form.get("name", "").strip()
    body = {
        "source": form.get("source", ""),
        "kind": form.get("kind", "processor"),
        "comment": form.get("comment", ""),
        "activate": form.get("activate") == "1",
    }
    pushed: dict[str, Any] = {}
    errors = apply_change(
        request,
        db,
        lambda: pushed.update(dynamic.push(db, actor, _state_dir(request), name, body)),
        lambda: f"{name}: version {pushed['version']} stored" + (" and active" if body["activate"] else ""),
    )
    return (
        _list_page(request, actor, {**form, "name": name}, errors) if errors else redirect(f"/dynamic/{name}")
    )


@router.get("/dynamic/{name}", response_class=HTMLResponse)
def dynamic_hook_page(
    name: str, request: Request, version: int | None = None, actor: Actor = Depends(page_actor)
):
    """The versions of one hook, and the source of ``version`` (the active one, else the newest)."""
    try:
        hook = dynamic.hook_view(_state_dir(request), name)
        shown = version or hook["active"] or hook["versions"][-1]["version"]
        source = dynamic.version_source(_state_dir(request), name, shown)
        for v in hook["versions"]:
            v["created"] = _utc(v["created_at"])
        if hook["loaded"]:
            hook["loaded"]["when"] = _utc(hook["loaded"].get("at"))
    except (ObjectNotFound, dynamic.DynamicUnavailable) as exc:
        return not_found(request, actor, str(exc))
    return render(
        request,
        "dynamic_hook.html",
        {
            "active": "dynamic",
            "title": f"Dynamic hook {name}",
            "hook": hook,
            "shown": shown,
            "source": source,
        },
        actor,
    )


@router.post("/dynamic/{name}/activate", response_class=HTMLResponse)
async def dynamic_activate(
    name: str, request: Request, actor: Actor = Depends(form_actor), db: Session = Depends(get_db)
):
    if (refusal := denied(request, actor, PUSH)) is not None:
        return refusal
    form = await form_data(request)
    version = int(form["version"]) if form.get("version", "").isdigit() else form.get("version")
    errors = apply_change(
        request,
        db,
        lambda: dynamic.activate(db, actor, _state_dir(request), name, version),
        f"{name}: version {version} is active; running pipelines take it at their next batch",
    )
    if errors and "_not_found" in errors:
        return not_found(request, actor, errors["_not_found"])
    if errors:
        return render(
            request,
            "error.html",
            {"status": 422, "message": "; ".join(errors.values())},
            actor,
            status_code=422,
        )
    return redirect(f"/dynamic/{name}")

"""Pages of data sources (with "test connection") and data media, on mgr-core's config service."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from otter_manager.errors import ObjectNotFound
from otter_manager.security import Actor
from otter_manager.services import config_service as config
from otter_manager.services.plugin_names import installed
from otter_manager.services.views import media_view, source_view
from otter_manager.store import get_db
from otter_manager.web import forms
from otter_manager.web.render import (
    apply_change,
    denied,
    flash,
    form_actor,
    form_data,
    not_found,
    page_actor,
    problem_status,
    redirect,
    render,
)

router = APIRouter(include_in_schema=False)
CONFIG_CHANGE = "change the config"


def source_body(form: dict[str, Any]) -> dict[str, Any]:
    """A source form as the service's body; an empty password keeps the stored one."""
    return forms.without_none(
        {
            "name": forms.text(form, "name"),
            "type": forms.text(form, "type"),
            "host": forms.text(form, "host"),
            "port": forms.integer(form, "port"),
            "user": forms.text(form, "user"),
            "password": forms.text(form, "password"),
            "password_env": forms.text(form, "password_env"),
            "encoding": forms.text(form, "encoding"),
            "options": forms.structured(form, "options", (dict,)),
        }
    )


def source_form_values(form: dict[str, Any] | None = None) -> dict[str, Any]:
    values = {"type": "mysql", "host": "127.0.0.1", "port": 3306, "user": "root", "encoding": "utf8mb4"}
    values.update({k: v for k, v in (form or {}).items() if k != "password"})
    return values


def _sources_page(
    request: Request, db: Session, actor: Actor, form: dict | None = None, errors: dict | None = None
) -> HTMLResponse:
    return render(
        request,
        "sources.html",
        {
            "active": "sources",
            "title": "Data sources",
            "sources": [source_view(s) for s in config.list_sources(db)],
            "types": installed("selector", "loader"),
            "form": source_form_values(form),
            "errors": errors or {},
        },
        actor,
        status_code=problem_status(errors) if errors else 200,
    )


@router.get("/sources", response_class=HTMLResponse)
def sources_page(request: Request, actor: Actor = Depends(page_actor), db: Session = Depends(get_db)):
    return _sources_page(request, db, actor)


@router.post("/sources", response_class=HTMLResponse)
async def sources_create(request: Request, actor: Actor = Depends(form_actor), db: Session = Depends(get_db)):
    if (refusal := denied(request, actor, CONFIG_CHANGE)) is not None:
        return refusal
    form = await form_data(request)
    errors = apply_change(
        request,
        db,
        lambda: config.create_source(db, actor, source_body(form)),
        f"source {form.get('name')} created",
    )
    return _sources_page(request, db, actor, form, errors) if errors else redirect("/sources")


def _source_edit_page(
    request: Request,
    db: Session,
    actor: Actor,
    source_id: int,
    form: dict | None = None,
    errors: dict | None = None,
) -> HTMLResponse:
    try:
        view = source_view(config.get_source(db, source_id))
    except ObjectNotFound as exc:
        return not_found(request, actor, str(exc))
    values = dict(view, options=forms.as_yaml(view["options"]))
    values.update({k: v for k, v in (form or {}).items() if k != "password"})
    return render(
        request,
        "source_edit.html",
        {
            "active": "sources",
            "title": f"Source {view['name']}",
            "source": view,
            "form": values,
            "types": installed("selector", "loader"),
            "errors": errors or {},
        },
        actor,
        status_code=problem_status(errors) if errors else 200,
    )


@router.get("/sources/{source_id}", response_class=HTMLResponse)
def source_edit(
    source_id: int, request: Request, actor: Actor = Depends(page_actor), db: Session = Depends(get_db)
):
    return _source_edit_page(request, db, actor, source_id)


@router.post("/sources/{source_id}", response_class=HTMLResponse)
async def source_update(
    source_id: int, request: Request, actor: Actor = Depends(form_actor), db: Session = Depends(get_db)
):
    if (refusal := denied(request, actor, CONFIG_CHANGE)) is not None:
        return refusal
    form = await form_data(request)
    errors = apply_change(
        request,
        db,
        lambda: config.update_source(db, actor, source_id, source_body(form)),
        f"source {form.get('name')} saved",
    )
    return _source_edit_page(request, db, actor, source_id, form, errors) if errors else redirect("/sources")


@router.post("/sources/{source_id}/delete", response_class=HTMLResponse)
async def source_delete(
    source_id: int, request: Request, actor: Actor = Depends(form_actor), db: Session = Depends(get_db)
):
    if (refusal := denied(request, actor, CONFIG_CHANGE)) is not None:
        return refusal
    errors = apply_change(
        request, db, lambda: config.delete_source(db, actor, source_id), f"source {source_id} deleted"
    )
    return _sources_page(request, db, actor, None, errors) if errors else redirect("/sources")


@router.post("/sources/{source_id}/test", response_class=HTMLResponse)
async def source_test(
    source_id: int, request: Request, actor: Actor = Depends(form_actor), db: Session = Depends(get_db)
):
    """Any logged-in user may test a connection: it changes nothing."""
    try:
        result = config.test_source(db, source_id)
    except ObjectNotFound as exc:
        return not_found(request, actor, str(exc))
    flash(request, "ok" if result["ok"] else "error", f"{result['source']}: {result['message']}")
    return redirect("/sources")


# --- data media -------------------------------------------------------------------------------------------


def media_body(form: dict[str, Any]) -> dict[str, Any]:
    return forms.without_none(
        {
            "source_id": forms.integer(form, "source_id"),
            "schema": forms.text(form, "schema"),
            "name": forms.text(form, "name"),
        }
    )


def source_choices(db: Session) -> list[tuple[int, str]]:
    return [(source.id, source.name) for source in config.list_sources(db)]


def _media_page(
    request: Request, db: Session, actor: Actor, form: dict | None = None, errors: dict | None = None
) -> HTMLResponse:
    return render(
        request,
        "media.html",
        {
            "active": "media",
            "title": "Data media",
            "media": [media_view(m) for m in config.list_media(db)],
            "sources": config.list_sources(db),
            "source_choices": source_choices(db),
            "form": form or {},
            "errors": errors or {},
        },
        actor,
        status_code=problem_status(errors) if errors else 200,
    )


@router.get("/media", response_class=HTMLResponse)
def media_page(request: Request, actor: Actor = Depends(page_actor), db: Session = Depends(get_db)):
    return _media_page(request, db, actor)


@router.post("/media", response_class=HTMLResponse)
async def media_create(request: Request, actor: Actor = Depends(form_actor), db: Session = Depends(get_db)):
    if (refusal := denied(request, actor, CONFIG_CHANGE)) is not None:
        return refusal
    form = await form_data(request)
    errors = apply_change(
        request,
        db,
        lambda: config.create_media(db, actor, media_body(form)),
        f"media {form.get('schema')}.{form.get('name')} created",
    )
    return _media_page(request, db, actor, form, errors) if errors else redirect("/media")


@router.post("/media/{media_id}/delete", response_class=HTMLResponse)
async def media_delete(
    media_id: int, request: Request, actor: Actor = Depends(form_actor), db: Session = Depends(get_db)
):
    if (refusal := denied(request, actor, CONFIG_CHANGE)) is not None:
        return refusal
    errors = apply_change(
        request, db, lambda: config.delete_media(db, actor, media_id), f"media {media_id} deleted"
    )
    return _media_page(request, db, actor, None, errors) if errors else redirect("/media")

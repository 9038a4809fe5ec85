"""Pages of channels, pipelines and pairs (the config side), on mgr-core's config service."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from otter_manager.errors import ObjectNotFound
from otter_manager.security import Actor
from otter_manager.services import config_service as config
from otter_manager.services.views import channel_view, pair_view, pipeline_view
from otter_manager.store import get_db
from otter_manager.web import forms, live_status
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
CONFIG_CHANGE = "change the config"


# --- channels ---------------------------------------------------------------------------------------------


def _channels_page(
    request: Request, db: Session, actor: Actor, form: dict | None = None, errors: dict | None = None
) -> HTMLResponse:
    states = live_status.channel_states(request, db)
    channels = [
        dict(channel_view(c), state=states.get(c.name), pipelines=[pipeline_view(p) for p in c.pipelines])
        for c in config.list_channels(db)
    ]
    return render(
        request,
        "channels.html",
        {
            "active": "channels",
            "title": "Channels",
            "channels": channels,
            "form": form or {},
            "errors": errors or {},
        },
        actor,
        status_code=problem_status(errors) if errors else 200,
    )


@router.get("/channels", response_class=HTMLResponse)
def channels_page(request: Request, actor: Actor = Depends(page_actor), db: Session = Depends(get_db)):
    return _channels_page(request, db, actor)


@router.post("/channels", response_class=HTMLResponse)
async def channels_create(
    request: Request, actor: Actor = Depends(form_actor), db: Session = Depends(get_db)
):
    if (refusal := denied(request, actor, CONFIG_CHANGE)) is not None:
        return refusal
    form = await form_data(request)
    body = forms.without_none(
        {"name": forms.text(form, "name"), "description": forms.text(form, "description")}
    )
    created: list[Any] = []
    errors = apply_change(
        request,
        db,
        lambda: created.append(config.create_channel(db, actor, body)),
        f"channel {form.get('name')} created: now add a pipeline",
    )
    if errors:
        return _channels_page(request, db, actor, form, errors)
    return redirect(f"/pipelines?channel_id={created[0].id}")


@router.post("/channels/{channel_id}/delete", response_class=HTMLResponse)
async def channels_delete(
    channel_id: int, request: Request, actor: Actor = Depends(form_actor), db: Session = Depends(get_db)
):
    if (refusal := denied(request, actor, CONFIG_CHANGE)) is not None:
        return refusal
    errors = apply_change(
        request, db, lambda: config.delete_channel(db, actor, channel_id), f"channel {channel_id} deleted"
    )
    return _channels_page(request, db, actor, None, errors) if errors else redirect("/channels")


# --- pipelines --------------------------------------------------------------------------------------------


def pipeline_body(form: dict[str, Any]) -> dict[str, Any]:
    """A pipeline form as the service's body (structured fields parsed from YAML)."""
    return forms.without_none(
        {
            "channel_id": forms.integer(form, "channel_id"),
            "name": forms.text(form, "name"),
            "source_id": forms.integer(form, "source_id"),
            "target_id": forms.integer(form, "target_id"),
            "start": forms.structured(form, "start", (str, dict)),
            "parameters": forms.structured(form, "parameters", (dict,)),
            "selector": forms.text(form, "selector"),
            "loader": forms.text(form, "loader"),
            "pipe": forms.text(form, "pipe"),
            "arbitrator": forms.text(form, "arbitrator"),
            "exclude": forms.name_list(form, "exclude"),
            "home": forms.checkbox(form, "home"),
            "snapshot": forms.structured(form, "snapshot", (bool, dict)),
        }
    )


def pipeline_form_values(view: dict[str, Any]) -> dict[str, Any]:
    """A stored pipeline as the values of its form."""
    return dict(
        view,
        start=forms.as_yaml(view["start"], one_line=True),
        parameters=forms.as_yaml(view["parameters"]),
        exclude=", ".join(view["exclude"]),
        snapshot=forms.as_yaml(view["snapshot"]) if view["snapshot"] is not None else "",
    )


def _choices(db: Session) -> dict[str, Any]:
    return {
        "channel_choices": [(c.id, c.name) for c in config.list_channels(db)],
        "source_choices": [(s.id, s.name) for s in config.list_sources(db)],
    }


def _pipelines_page(
    request: Request, db: Session, actor: Actor, form: dict | None = None, errors: dict | None = None
) -> HTMLResponse:
    defaults = {"start": "current", "pipe": "memory", "arbitrator": "memory"}
    return render(
        request,
        "pipelines.html",
        {
            "active": "pipelines",
            "title": "Pipelines",
            "pipelines": [pipeline_view(p) for p in config.list_pipelines(db)],
            "form": dict(defaults, **(form or {})),
            "errors": errors or {},
            "form_action": "/pipelines",
            **_choices(db),
        },
        actor,
        status_code=problem_status(errors) if errors else 200,
    )


@router.get("/pipelines", response_class=HTMLResponse)
def pipelines_page(
    request: Request,
    channel_id: int | None = None,
    actor: Actor = Depends(page_actor),
    db: Session = Depends(get_db),
):
    return _pipelines_page(request, db, actor, {"channel_id": channel_id} if channel_id else None)


@router.post("/pipelines", response_class=HTMLResponse)
async def pipelines_create(
    request: Request, actor: Actor = Depends(form_actor), db: Session = Depends(get_db)
):
    if (refusal := denied(request, actor, CONFIG_CHANGE)) is not None:
        return refusal
    form = await form_data(request)
    created: list[Any] = []
    errors = apply_change(
        request,
        db,
        lambda: created.append(config.create_pipeline(db, actor, pipeline_body(form))),
        f"pipeline {form.get('name')} created: now add its pairs",
    )
    if errors:
        return _pipelines_page(request, db, actor, form, errors)
    return redirect(f"/pipelines/{created[0].id}")


def _pipeline_page(
    request: Request,
    db: Session,
    actor: Actor,
    pipeline_id: int,
    form: dict | None = None,
    errors: dict | None = None,
    pair_form: dict | None = None,
    pair_errors: dict | None = None,
) -> HTMLResponse:
    try:
        pipeline = config.get_pipeline(db, pipeline_id)
    except ObjectNotFound as exc:
        return not_found(request, actor, str(exc))
    view = pipeline_view(pipeline)
    status = problem_status(errors or pair_errors or {}) if (errors or pair_errors) else 200
    return render(
        request,
        "pipeline.html",
        {
            "active": "pipelines",
            "title": f"Pipeline {view['name']}",
            "pipeline": view,
            "pairs": [pair_view(p) for p in pipeline.pairs],
            "form": dict(pipeline_form_values(view), **(form or {})),
            "errors": errors or {},
            "form_action": f"/pipelines/{pipeline_id}",
            "submit_label": "Save pipeline",
            "pair_form": dict(
                {"pipeline_id": pipeline_id, "column_mode": "include", "push_weight": 5}, **(pair_form or {})
            ),
            "pair_errors": pair_errors or {},
            "pair_action": "/pairs",
            **_choices(db),
        },
        actor,
        status_code=status,
    )


@router.get("/pipelines/{pipeline_id}", response_class=HTMLResponse)
def pipeline_page(
    pipeline_id: int, request: Request, actor: Actor = Depends(page_actor), db: Session = Depends(get_db)
):
    return _pipeline_page(request, db, actor, pipeline_id)


@router.post("/pipelines/{pipeline_id}", response_class=HTMLResponse)
async def pipeline_update(
    pipeline_id: int, request: Request, actor: Actor = Depends(form_actor), db: Session = Depends(get_db)
):
    if (refusal := denied(request, actor, CONFIG_CHANGE)) is not None:
        return refusal
    form = await form_data(request)
    errors = apply_change(
        request,
        db,
        lambda: config.update_pipeline(db, actor, pipeline_id, pipeline_body(form)),
        f"pipeline {form.get('name')} saved",
    )
    return (
        _pipeline_page(request, db, actor, pipeline_id, form, errors)
        if errors
        else redirect(f"/pipelines/{pipeline_id}")
    )


@router.post("/pipelines/{pipeline_id}/delete", response_class=HTMLResponse)
async def pipeline_delete(
    pipeline_id: int, request: Request, actor: Actor = Depends(form_actor), db: Session = Depends(get_db)
):
    if (refusal := denied(request, actor, CONFIG_CHANGE)) is not None:
        return refusal
    errors = apply_change(
        request, db, lambda: config.delete_pipeline(db, actor, pipeline_id), f"pipeline {pipeline_id} deleted"
    )
    return _pipelines_page(request, db, actor, None, errors) if errors else redirect("/pipelines")

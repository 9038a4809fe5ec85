"""The YAML page: export the config as the YAML ``otter-run run`` reads, and import such a YAML (ADMIN),
through mgr-core's config service (the same functions as /api/config/export and /api/config/import)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, PlainTextResponse
from sqlalchemy.orm import Session

from otter_manager.errors import ConfigConflict, ObjectNotFound
from otter_manager.security import Actor
from otter_manager.services import config_service as config
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


def _export(db: Session, channel_id: int | None) -> str:
    channel = config.get_channel(db, channel_id) if channel_id else None
    return config.export_yaml(db, channel.name if channel else None)


def _yaml_page(
    request: Request,
    db: Session,
    actor: Actor,
    channel_id: int | None,
    text: str = "",
    errors: dict | None = None,
) -> HTMLResponse:
    try:
        exported, nothing = _export(db, channel_id), ""
    except ObjectNotFound as exc:
        return not_found(request, actor, str(exc))
    except ConfigConflict as exc:  # nothing complete to export yet
        exported, nothing = "", str(exc)
    return render(
        request,
        "yaml.html",
        {
            "active": "yaml",
            "title": "YAML import/export",
            "exported": exported,
            "nothing": nothing,
            "channel_id": channel_id,
            "channel_choices": [("", "every channel")] + [(c.id, c.name) for c in config.list_channels(db)],
            "text": text,
            "errors": errors or {},
        },
        actor,
        status_code=problem_status(errors) if errors else 200,
    )


@router.get("/yaml", response_class=HTMLResponse)
def yaml_page(
    request: Request,
    channel_id: int | None = None,
    actor: Actor = Depends(page_actor),
    db: Session = Depends(get_db),
):
    return _yaml_page(request, db, actor, channel_id)


@router.get("/yaml/download", response_class=PlainTextResponse)
def yaml_download(
    request: Request,
    channel_id: int | None = None,
    actor: Actor = Depends(page_actor),
    db: Session = Depends(get_db),
):
    try:
        name = config.get_channel(db, channel_id).name if channel_id else "otter"
        text = _export(db, channel_id)
    except (ObjectNotFound, ConfigConflict) as exc:
        return not_found(request, actor, str(exc))
    return PlainTextResponse(
        text,
        media_type="application/yaml",
        headers={"Content-Disposition": f'attachment; filename="{name}.yaml"'},
    )


@router.post("/yaml", response_class=HTMLResponse)
async def yaml_import(request: Request, actor: Actor = Depends(form_actor), db: Session = Depends(get_db)):
    if (refusal := denied(request, actor, "change the config")) is not None:
        return refusal
    text = (await form_data(request)).get("yaml", "")
    errors = apply_change(request, db, lambda: config.import_yaml(db, actor, text), "YAML imported")
    return _yaml_page(request, db, actor, None, text, errors) if errors else redirect("/yaml")

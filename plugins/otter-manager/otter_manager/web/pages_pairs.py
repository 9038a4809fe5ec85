"""Pages of pairs (mappings, column pairs and groups, weight, processors, conflict policy), on mgr-core's
config service. A pair is added from its pipeline's page and edited on its own."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from otter_manager.errors import ObjectNotFound
from otter_manager.security import Actor
from otter_manager.services import config_service as config
from otter_manager.services.views import pair_view, pipeline_view
from otter_manager.store import get_db
from otter_manager.web import forms
from otter_manager.web.pages_channels import _pipeline_page
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


def pair_body(form: dict[str, Any], with_pipeline: bool = True) -> dict[str, Any]:
    """A pair form as the service's body: tables by ``schema.table`` name, structured fields from YAML."""
    body = {
        "source": forms.text(form, "source"),
        "target": forms.text(form, "target"),
        "columns": forms.structured(form, "columns", (list, dict)),
        "column_mode": forms.text(form, "column_mode"),
        "column_groups": forms.structured(form, "column_groups", (list,)),
        "push_weight": forms.integer(form, "push_weight"),
        "processors": forms.name_list(form, "processors"),
        "processor_options": forms.structured(form, "processor_options", (dict,)),
        "filter": forms.text(form, "filter"),
        "file_resolver": forms.structured(form, "file_resolver", (str, dict)),
        "conflict": forms.text(form, "conflict"),
    }
    if with_pipeline:
        body["pipeline_id"] = forms.integer(form, "pipeline_id")
    return forms.without_none(body)


def pair_form_values(view: dict[str, Any]) -> dict[str, Any]:
    return dict(
        view,
        columns=forms.as_yaml(view["columns"]),
        column_groups=forms.as_yaml(view["column_groups"]),
        processors=", ".join(view["processors"]),
        processor_options=forms.as_yaml(view["processor_options"]),
        file_resolver=forms.as_yaml(view["file_resolver"]),
        filter=view["filter"] or "",
        conflict=forms.as_yaml(view["conflict"], one_line=True),
    )


@router.post("/pairs", response_class=HTMLResponse)
async def pairs_create(request: Request, actor: Actor = Depends(form_actor), db: Session = Depends(get_db)):
    if (refusal := denied(request, actor, CONFIG_CHANGE)) is not None:
        return refusal
    form = await form_data(request)
    pipeline_id = forms.integer(form, "pipeline_id") or 0
    errors = apply_change(
        request,
        db,
        lambda: config.create_pair(db, actor, pair_body(form)),
        f"pair {form.get('source')} → {form.get('target') or form.get('source')} added",
    )
    if errors:
        return _pipeline_page(request, db, actor, pipeline_id, pair_form=form, pair_errors=errors)
    return redirect(f"/pipelines/{pipeline_id}")


def _pair_page(
    request: Request,
    db: Session,
    actor: Actor,
    pair_id: int,
    form: dict | None = None,
    errors: dict | None = None,
) -> HTMLResponse:
    try:
        pair = config.get_pair(db, pair_id)
    except ObjectNotFound as exc:
        return not_found(request, actor, str(exc))
    view = pair_view(pair)
    return render(
        request,
        "pair.html",
        {
            "active": "pairs",
            "title": f"Pair {view['source']}",
            "pair": view,
            "pipeline": pipeline_view(pair.pipeline),
            "pair_form": dict(pair_form_values(view), **(form or {})),
            "pair_errors": errors or {},
            "pair_action": f"/pairs/{pair_id}",
            "pair_submit": "Save pair",
        },
        actor,
        status_code=problem_status(errors) if errors else 200,
    )


@router.get("/pairs", response_class=HTMLResponse)
def pairs_page(request: Request, actor: Actor = Depends(page_actor), db: Session = Depends(get_db)):
    """Every pair of every pipeline, grouped by pipeline."""
    pipelines = [
        dict(pipeline_view(p), pairs=[pair_view(x) for x in p.pairs]) for p in config.list_pipelines(db)
    ]
    return render(request, "pairs.html", {"active": "pairs", "title": "Pairs", "pipelines": pipelines}, actor)


@router.get("/pairs/{pair_id}", response_class=HTMLResponse)
def pair_page(
    pair_id: int, request: Request, actor: Actor = Depends(page_actor), db: Session = Depends(get_db)
):
    return _pair_page(request, db, actor, pair_id)


@router.post("/pairs/{pair_id}", response_class=HTMLResponse)
async def pair_update(
    pair_id: int, request: Request, actor: Actor = Depends(form_actor), db: Session = Depends(get_db)
):
    if (refusal := denied(request, actor, CONFIG_CHANGE)) is not None:
        return refusal
    form = await form_data(request)
    errors = apply_change(
        request, db, lambda: config.update_pair(db, actor, pair_id, pair_body(form, False)), "pair saved"
    )
    if errors:
        return _pair_page(request, db, actor, pair_id, form, errors)
    return redirect(f"/pipelines/{config.get_pair(db, pair_id).pipeline_id}")


@router.post("/pairs/{pair_id}/delete", response_class=HTMLResponse)
async def pair_delete(
    pair_id: int, request: Request, actor: Actor = Depends(form_actor), db: Session = Depends(get_db)
):
    if (refusal := denied(request, actor, CONFIG_CHANGE)) is not None:
        return refusal
    try:
        pipeline_id = config.get_pair(db, pair_id).pipeline_id
    except ObjectNotFound as exc:
        return not_found(request, actor, str(exc))
    errors = apply_change(
        request, db, lambda: config.delete_pair(db, actor, pair_id), f"pair {pair_id} deleted"
    )
    return (
        _pipeline_page(request, db, actor, pipeline_id, pair_errors=errors)
        if errors
        else redirect(f"/pipelines/{pipeline_id}")
    )

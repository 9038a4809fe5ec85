"""Pages of nodes, conflicts (list and resolve) and the reject log. They call mgr-ops's functions behind
/api/nodes, /api/conflicts and /api/rejects (``api/repair_api.py``: plain functions, called here with the
page's session and user), so the pages and the API read and resolve the same way."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from otter_manager.api import repair_api
from otter_manager.errors import ConfigConflict, ObjectNotFound
from otter_manager.security import Actor, ValidationProblem
from otter_manager.services import config_service as config
from otter_manager.store import get_db
from otter_manager.web import forms, live_status
from otter_manager.web.render import (
    apply_change,
    flash,
    form_actor,
    form_data,
    page_actor,
    redirect,
    render,
)

router = APIRouter(include_in_schema=False)
LIST_LIMIT = 200
NODES_REFRESH_MS = 5000


@router.get("/nodes", response_class=HTMLResponse)
def nodes_page(request: Request, actor: Actor = Depends(page_actor)):
    runtime = live_status.runtime(request)
    return render(
        request,
        "nodes.html",
        {
            "active": "nodes",
            "title": "Nodes",
            "nodes": runtime.nodes(),
            "mode": "distributed (ZooKeeper)" if request.app.state.settings.zk_hosts else "standalone",
            "refresh_ms": NODES_REFRESH_MS,
        },
        actor,
    )


def _conflict_channels(db: Session) -> list[tuple[int, str]]:
    """Channels with a conflict policy on some pair: the only ones that record conflicts."""
    return [
        (c.id, c.name)
        for c in config.list_channels(db)
        if any(pair.conflict for p in c.pipelines for pair in p.pairs)
    ]


@router.get("/conflicts", response_class=HTMLResponse)
def conflicts_page(
    request: Request,
    channel_id: int | None = None,
    status: str = "parked",
    actor: Actor = Depends(page_actor),
    db: Session = Depends(get_db),
):
    problem = ""
    records: list[dict[str, Any]] = []
    try:
        records = repair_api.list_conflicts(
            channel_id=channel_id, status=status or None, limit=LIST_LIMIT, db=db
        )
    except (ConfigConflict, ValidationProblem, ObjectNotFound) as exc:
        problem = getattr(exc, "message", None) or str(exc)
    return render(
        request,
        "conflicts.html",
        {
            "active": "conflicts",
            "title": "Conflicts",
            "records": records,
            "problem": problem,
            "channels": _conflict_channels(db),
            "channel_id": channel_id,
            "status": status,
            "statuses": ["parked", "done", "resolved", ""],
        },
        actor,
    )


@router.post("/conflicts/{conflict_id}/resolve", response_class=HTMLResponse)
async def conflict_resolve(
    conflict_id: str, request: Request, actor: Actor = Depends(form_actor), db: Session = Depends(get_db)
):
    """Settle a parked conflict (an OPERATOR may): keep the source's change, the target's row, or write a row."""
    form = await form_data(request)
    channel_id = forms.integer(form, "channel_id")
    action = form.get("action", "")
    body: dict[str, Any] = {"action": action}
    if action == "image":
        body["image"] = forms.structured(form, "image", (dict,))

    def resolve() -> dict:
        if channel_id is None:  # a form without its channel: answered as an unknown channel
            raise ObjectNotFound("channel", None)
        return repair_api.resolve_conflict(conflict_id, channel_id=channel_id, body=body, db=db, actor=actor)

    errors = apply_change(request, db, resolve, f"conflict {conflict_id} resolved ({action})")
    for message in (errors or {}).values():
        flash(request, "error", f"conflict {conflict_id}: {message}")
    return redirect(f"/conflicts?channel_id={channel_id or ''}")


@router.get("/rejects", response_class=HTMLResponse)
def rejects_page(
    request: Request,
    pipeline_id: int | None = None,
    actor: Actor = Depends(page_actor),
    db: Session = Depends(get_db),
):
    pipelines = [(p.id, f"{p.channel.name}/{p.name}") for p in config.list_pipelines(db)]
    if pipeline_id is None and pipelines:
        pipeline_id = pipelines[0][0]
    rows: list[dict[str, Any]] = []
    problem = ""
    if pipeline_id is not None:
        try:
            rows = list(
                reversed(repair_api.list_rejects(request, pipeline_id=pipeline_id, limit=LIST_LIMIT, db=db))
            )
        except (ConfigConflict, ObjectNotFound) as exc:
            problem = str(exc)
    return render(
        request,
        "rejects.html",
        {
            "active": "rejects",
            "title": "Reject log",
            "rows": rows,
            "problem": problem,
            "pipelines": pipelines,
            "pipeline_id": pipeline_id,
        },
        actor,
    )

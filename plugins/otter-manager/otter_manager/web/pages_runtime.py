"""Pages of running channels: the dashboard, and a channel's status with start / pause / stop and the reset
of a pipeline's position, on mgr-ops's control service (``manager/ops/control.py``) and runtime."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from otter_manager.errors import ObjectNotFound
from otter_manager.ops import control
from otter_manager.security import Actor, ValidationProblem
from otter_manager.services import config_service as config
from otter_manager.services.views import channel_view, pipeline_view
from otter_manager.store import get_db
from otter_manager.web import forms, live_status
from otter_manager.web.render import (
    apply_change,
    form_actor,
    form_data,
    not_found,
    page_actor,
    problem_status,
    redirect,
    render,
)

router = APIRouter(include_in_schema=False)
REFRESH_MS = 2000
CONTROLS = {"start": control.start_channel, "pause": control.pause_channel, "stop": control.stop_channel}
DONE = {
    "start": "channel started",
    "pause": "channel paused: batches in flight finish, nothing new is read",
    "stop": "channel stopped",
}


@router.get("/", response_class=HTMLResponse)
def dashboard(request: Request, actor: Actor = Depends(page_actor), db: Session = Depends(get_db)):
    statuses = live_status.statuses(request, db)
    rows = [live_status.channel_summary(c, statuses.get(c.id, {})) for c in config.list_channels(db)]
    delays = [r["delay"] for r in rows if r["delay"] is not None]
    return render(
        request,
        "dashboard.html",
        {
            "active": "dashboard",
            "title": "Dashboard",
            "channels": rows,
            "refresh_ms": REFRESH_MS,
            "worst_delay": max(delays) if delays else None,
            "total_rows_per_s": sum(r["rows_per_s"] or 0 for r in rows) if rows else None,
        },
        actor,
    )


def _channel_page(
    request: Request, db: Session, actor: Actor, channel_id: int, errors: dict | None = None
) -> HTMLResponse:
    try:
        channel = config.get_channel(db, channel_id)
    except ObjectNotFound as exc:
        return not_found(request, actor, str(exc))
    status = live_status.statuses(request, db).get(channel.id) or {"state": None, "pipelines": []}
    pipelines = [
        {
            "view": pipeline_view(p),
            "status": live_status.pipeline_figures(status, p.name),
            "acked": live_status.acked_position(request, channel.name, p.name),
            "history_url": f"/api/pipelines/{p.id}/history",
        }
        for p in channel.pipelines
    ]
    tail = getattr(live_status.runtime(request), "log_tail", None)
    return render(
        request,
        "channel.html",
        {
            "active": "channels",
            "title": f"Channel {channel.name}",
            "channel": channel_view(channel),
            "status": status,
            "pipelines": pipelines,
            "refresh_ms": REFRESH_MS,
            "errors": errors or {},
            "log_tail": tail(channel.name, 3000) if tail is not None and status.get("state") else "",
        },
        actor,
        status_code=problem_status(errors) if errors else 200,
    )


@router.get("/channels/{channel_id}", response_class=HTMLResponse)
def channel_page(
    channel_id: int, request: Request, actor: Actor = Depends(page_actor), db: Session = Depends(get_db)
):
    return _channel_page(request, db, actor, channel_id)


def _control(action: str):
    operation = CONTROLS[action]

    def control_channel(
        channel_id: int, request: Request, actor: Actor = Depends(form_actor), db: Session = Depends(get_db)
    ):
        errors = apply_change(
            request, db, lambda: operation(db, live_status.runtime(request), actor, channel_id), DONE[action]
        )
        if errors:
            return _channel_page(request, db, actor, channel_id, errors)
        return redirect(f"/channels/{channel_id}")

    return control_channel


for _action in CONTROLS:  # start, pause, stop: an OPERATOR may, like an ADMIN
    router.add_api_route(
        f"/channels/{{channel_id}}/{_action}",
        _control(_action),
        methods=["POST"],
        response_class=HTMLResponse,
        name=f"channel_{_action}",
    )


def reset_body(form: dict[str, Any]) -> dict[str, Any]:
    """The reset form as the control service's body: exactly the fields of the chosen kind."""
    kind = form.get("kind") or "file"
    if kind == "file":
        return {"file": forms.text(form, "file"), "pos": forms.integer(form, "pos")}
    if kind in ("gtid", "time"):
        return {kind: forms.text(form, kind)}
    raise ValidationProblem("kind", f"reset by file, gtid or time, not {kind!r}")


@router.post("/pipelines/{pipeline_id}/reset", response_class=HTMLResponse)
async def pipeline_reset(
    pipeline_id: int, request: Request, actor: Actor = Depends(form_actor), db: Session = Depends(get_db)
):
    try:
        channel_id = config.get_pipeline(db, pipeline_id).channel_id
    except ObjectNotFound as exc:
        return not_found(request, actor, str(exc))
    form = await form_data(request)
    done: list[dict[str, Any]] = []
    errors = apply_change(
        request,
        db,
        lambda: done.append(
            control.reset_pipeline(
                db, live_status.runtime(request), actor, pipeline_id, forms.without_none(reset_body(form))
            )
        ),
        lambda: (
            f"position of pipeline {done[0]['pipeline']} reset to {done[0]['text']}: it resumes there at the "
            "next start"
        ),
    )
    if errors:
        return _channel_page(request, db, actor, channel_id, errors)
    return redirect(f"/channels/{channel_id}")

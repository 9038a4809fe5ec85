"""Ops API: start, pause and stop channels, reset a pipeline's position, status, history and nodes.

Any logged-in user (OPERATOR or ADMIN) may control channels; unsafe methods need the X-CSRF-Token header.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.openapi.models import Example
from sqlalchemy.orm import Session

from otter_manager.api.common import NOT_FOUND, OPERATOR
from otter_manager.ops import control
from otter_manager.security import Actor, ValidationProblem, require_operator
from otter_manager.store import get_db

router = APIRouter(prefix="/api", tags=["ops"])
CONTROL = {
    **NOT_FOUND,
    409: {"description": "the channel is in the wrong state, or its config is incomplete"},
    403: {"description": "missing/wrong X-CSRF-Token"},
    401: {"description": "not logged in"},
}
RESET_EXAMPLES: dict[str, Example] = {
    "file and pos": {"value": {"file": "mysql-bin.000003", "pos": 4}},
    "gtid": {"value": {"gtid": "0-1-100"}},
    "time": {"value": {"time": "2026-11-26T10:00:00Z"}},
}


def runtime(request: Request) -> Any:
    return request.app.state.runtime


@router.post("/channels/{channel_id}/start", responses=CONTROL)
def start_channel(
    channel_id: int, request: Request, db: Session = Depends(get_db), actor: Actor = Depends(require_operator)
) -> dict:
    """Run the channel with its stored config (a running paused channel resumes)."""
    return control.start_channel(db, runtime(request), actor, channel_id)


@router.post("/channels/{channel_id}/pause", responses=CONTROL)
def pause_channel(
    channel_id: int, request: Request, db: Session = Depends(get_db), actor: Actor = Depends(require_operator)
) -> dict:
    """Close the channel's permit: Select stops, batches in flight load and ack."""
    return control.pause_channel(db, runtime(request), actor, channel_id)


@router.post("/channels/{channel_id}/stop", responses=CONTROL)
def stop_channel(
    channel_id: int, request: Request, db: Session = Depends(get_db), actor: Actor = Depends(require_operator)
) -> dict:
    """Stop the channel after its batches in flight are loaded and acked."""
    return control.stop_channel(db, runtime(request), actor, channel_id)


@router.post(
    "/pipelines/{pipeline_id}/reset", responses={**CONTROL, 422: {"description": "no valid position"}}
)
def reset_pipeline(
    pipeline_id: int,
    request: Request,
    body: dict[str, Any] = Body(..., openapi_examples=RESET_EXAMPLES),
    db: Session = Depends(get_db),
    actor: Actor = Depends(require_operator),
) -> dict:
    """Where the pipeline resumes on its next start: ``{file, pos}``, ``{gtid}`` or ``{time}`` (Unix seconds
    or ISO 8601; mapped to the first transaction committed at or after it). The channel must be stopped (409)."""
    return control.reset_pipeline(db, runtime(request), actor, pipeline_id, body)


@router.get("/status", dependencies=OPERATOR)
def status(request: Request, db: Session = Depends(get_db)) -> list[dict]:
    """Every channel: state (RUNNING, PAUSED, STOPPED, DEAD, or null when never started) and its pipelines'
    figures: delay ``lag_s``, rows, rows/s, bytes, bytes/s, I/U/D per table, stage milliseconds, position,
    last error."""
    return control.status(db, runtime(request))


@router.get("/pipelines/{pipeline_id}/history", dependencies=OPERATOR, responses=NOT_FOUND)
def history(
    pipeline_id: int,
    since: str | None = Query(None, description="ISO 8601 time (UTC if no zone)"),
    limit: int = Query(control.HISTORY_LIMIT, ge=1, le=control.HISTORY_LIMIT),
    db: Session = Depends(get_db),
) -> list[dict]:
    """The collector's samples of the pipeline after ``since``, oldest first."""
    return control.history(db, pipeline_id, _utc(since), limit)


@router.get("/nodes", dependencies=OPERATOR)
def nodes(request: Request) -> list[dict]:
    """Nodes: alive or dead and what runs where (standalone: one local node with its running channels)."""
    return runtime(request).nodes()


def _utc(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValidationProblem(
            "since", f"{text!r} is not an ISO 8601 time like 2026-11-26T10:00:00Z"
        ) from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return moment

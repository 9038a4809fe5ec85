"""Conflicts and rejects API: the parked conflicts of two-way channels (list, show, resolve through
``otter_core.conflicts``) and the reject log of a pipeline (``otter_core.rejects`` via the runtime).
Any logged-in user may resolve a conflict (an operator's job); unsafe methods need the X-CSRF-Token header."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Query, Request
from sqlalchemy.orm import Session

from otter_core import conflicts
from otter_core.spi import ConfigError, OtterError
from otter_manager.api.common import NOT_FOUND, OPERATOR, Responses
from otter_manager.errors import ConfigConflict, ObjectNotFound
from otter_manager.security import Actor, ValidationProblem, audit, require_operator
from otter_manager.services.common import fetch
from otter_manager.store import Channel, Pipeline, get_db

router = APIRouter(prefix="/api", tags=["conflicts and rejects"])
ACTIONS = ("source", "target", "image")
STATUSES = ("parked", "done", "resolved")
UNREACHABLE: Responses = {
    409: {"description": "the channel's config is incomplete or its target cannot be read"}
}


def _config(db: Session, channel: Channel):
    from otter_manager.services.yaml_io import to_otter_config

    return to_otter_config(db, channel.name)


def _channels(db: Session, channel_id: int | None) -> list[Channel]:
    if channel_id is not None:
        return [fetch(db, Channel, channel_id, "channel")]
    return [
        c
        for c in db.query(Channel).order_by(Channel.id).all()
        if c.pipelines
        and any(p.pairs for p in c.pipelines)
        and any(pair.conflict for p in c.pipelines for pair in p.pairs)
    ]


@router.get("/conflicts", dependencies=OPERATOR, responses={**NOT_FOUND, **UNREACHABLE})
def list_conflicts(
    channel_id: int | None = None,
    status: str | None = Query(None, description="parked, done or resolved"),
    limit: int = Query(100, ge=1, le=1000),
    db: Session = Depends(get_db),
) -> list[dict]:
    """Detected conflicts of one channel (or of every channel with a conflict policy), newest first."""
    if status is not None and status not in STATUSES:
        raise ValidationProblem("status", f"expected one of {', '.join(STATUSES)}")
    found: list[dict] = []
    for channel in _channels(db, channel_id):
        try:
            records = conflicts.list_conflicts(
                _config(db, channel), channel=channel.name, status=status, limit=limit
            )
        except OtterError as exc:
            raise ConfigConflict(f"cannot read the conflicts of channel {channel.name!r}: {exc}") from None
        found.extend({**r.to_dict(), "channel_id": channel.id} for r in records)
    found.sort(key=lambda r: r["detected_at"] or "", reverse=True)
    return found[:limit]


def _one(db: Session, channel_id: int, conflict_id: str):
    channel = fetch(db, Channel, channel_id, "channel")
    config = _config(db, channel)
    try:
        record = conflicts.show_conflict(config, conflict_id)
    except ConfigError as exc:
        if str(exc).startswith("no conflict"):
            raise ObjectNotFound("conflict", conflict_id) from None
        raise ValidationProblem("conflict_id", str(exc)) from None
    except OtterError as exc:
        raise ConfigConflict(f"cannot read conflict {conflict_id}: {exc}") from None
    if record.channel != channel.name:
        raise ObjectNotFound("conflict", f"{conflict_id} of channel {channel.name}")
    return channel, config, record


@router.get("/conflicts/{conflict_id}", dependencies=OPERATOR, responses={**NOT_FOUND, **UNREACHABLE})
def show_conflict(
    conflict_id: str,
    channel_id: int = Query(..., description="the channel the conflict is of"),
    db: Session = Depends(get_db),
) -> dict:
    """One conflict (id ``TARGET:N``): the source's and the target's rows, policy, outcome, status."""
    return _one(db, channel_id, conflict_id)[2].to_dict()


@router.post(
    "/conflicts/{conflict_id}/resolve",
    responses={**NOT_FOUND, **UNREACHABLE, 422: {"description": "bad action or image"}},
)
def resolve_conflict(
    conflict_id: str,
    channel_id: int = Query(...),
    body: dict[str, Any] = Body(
        ...,
        examples=[
            {"action": "source"},
            {"action": "target"},
            {"action": "image", "image": {"id": 1, "v": "x"}},
        ],
    ),
    db: Session = Depends(get_db),
    actor: Actor = Depends(require_operator),
) -> dict:
    """Settle a parked conflict: ``source`` applies the parked changes, ``target`` keeps the target's row,
    ``image`` writes ``image`` (null deletes the row)."""
    action = body.get("action")
    if action not in ACTIONS:
        raise ValidationProblem("action", f"expected one of {', '.join(ACTIONS)}")
    image = body.get("image")
    if (action == "image" and "image" not in body) or (image is not None and not isinstance(image, dict)):
        raise ValidationProblem(
            "image", "expected the row to write as a JSON object of column values, or null"
        )
    channel, config, record = _one(db, channel_id, conflict_id)
    if record.status != "parked":
        raise ConfigConflict(f"conflict {conflict_id} is {record.status}, not parked: nothing to resolve")
    try:
        done = conflicts.resolve_conflict(
            config, conflict_id, action, image if action == "image" else None, by=actor.username
        )
    except OtterError as exc:
        raise ConfigConflict(f"cannot resolve conflict {conflict_id}: {exc}") from None
    audit(db, actor, "resolve", f"conflict {conflict_id} of channel {channel.name}", {"action": action})
    return done.to_dict()


@router.get("/rejects", dependencies=OPERATOR, responses=NOT_FOUND)
def list_rejects(
    request: Request, pipeline_id: int, limit: int = Query(200, ge=1, le=5000), db: Session = Depends(get_db)
) -> list[dict]:
    """The pipeline's reject log (events skipped on purpose, with position and reason), newest last."""
    pipeline = fetch(db, Pipeline, pipeline_id, "pipeline")
    try:
        rows = request.app.state.runtime.rejects(pipeline.channel.name, pipeline.name)
    except ConfigError as exc:
        raise ConfigConflict(str(exc)) from None
    return rows[-limit:]

"""Alarms API: rules (reading for any user, changes for an ADMIN), fired alarm events, and the SMTP server
email alarms go through (ADMIN; its password is never returned)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Query
from fastapi.openapi.models import Example
from sqlalchemy.orm import Session

from otter_manager.api.common import ADMIN, CHANGE, NOT_FOUND, OPERATOR
from otter_manager.ops import alarm_service as alarms
from otter_manager.security import Actor, require_admin, require_operator
from otter_manager.store import get_db

router = APIRouter(prefix="/api", tags=["alarms"])
RULE_EXAMPLES: dict[str, Example] = {
    "delay": {
        "value": {
            "name": "slow-shop",
            "kind": "delay",
            "threshold": 60,
            "window": "08:00-20:00",
            "channel": "shop",
            "notifiers": [{"type": "webhook", "url": "https://example.org/hook"}],
        }
    },
    "exception": {
        "value": {
            "name": "deadlocks",
            "kind": "exception",
            "pattern": "Deadlock|Lock wait",
            "notifiers": [{"type": "email", "to": ["dba@example.org"]}],
        }
    },
    "timeout with restart": {
        "value": {
            "name": "died",
            "kind": "process_timeout",
            "threshold": 30,
            "auto_recover": True,
            "recover_max": 3,
            "notifiers": [{"type": "log"}],
        }
    },
}


@router.get("/alarms")
def list_rules(db: Session = Depends(get_db), actor: Actor = Depends(require_operator)) -> list[dict]:
    """The rules; an OPERATOR sees webhook URLs masked."""
    return [alarms.rule_view(r, actor) for r in alarms.list_rules(db)]


@router.get("/alarms/{rule_id}", responses=NOT_FOUND)
def get_rule(rule_id: int, db: Session = Depends(get_db), actor: Actor = Depends(require_operator)) -> dict:
    return alarms.rule_view(alarms.get_rule(db, rule_id), actor)


@router.post("/alarms", status_code=201, responses=CHANGE)
def create_rule(
    body: dict[str, Any] = Body(..., openapi_examples=RULE_EXAMPLES),
    db: Session = Depends(get_db),
    actor: Actor = Depends(require_admin),
) -> dict:
    """A rule: ``kind`` delay | exception | process_timeout | pipeline_timeout | position_timeout; ``threshold``
    seconds; ``pattern`` a regular expression (exception); ``window`` hh:mm-hh:mm; ``channel``/``pipeline``
    names (empty: all); ``notifiers`` [{type: log | webhook (url) | email (to)}]; ``auto_recover`` with
    ``recover_max`` restarts per channel."""
    return alarms.rule_view(alarms.create_rule(db, actor, body), actor)


@router.patch("/alarms/{rule_id}", responses=CHANGE)
def update_rule(
    rule_id: int,
    body: dict[str, Any] = Body(...),
    db: Session = Depends(get_db),
    actor: Actor = Depends(require_admin),
) -> dict:
    return alarms.rule_view(alarms.update_rule(db, actor, rule_id, body), actor)


@router.delete("/alarms/{rule_id}", status_code=204, responses=CHANGE)
def delete_rule(rule_id: int, db: Session = Depends(get_db), actor: Actor = Depends(require_admin)) -> None:
    alarms.delete_rule(db, actor, rule_id)


@router.get("/alarm-events", dependencies=OPERATOR)
def list_events(
    limit: int = Query(100, ge=1, le=1000),
    channel: str | None = None,
    before_id: int | None = Query(None, description="page back: events older than this id"),
    db: Session = Depends(get_db),
) -> list[dict]:
    """Fired alarms, newest first: rule, channel/pipeline, message, action taken, notifiers that failed."""
    return [alarms.event_view(e) for e in alarms.list_events(db, limit, channel, before_id)]


@router.get("/alarm-settings/smtp", dependencies=ADMIN)
def get_smtp(db: Session = Depends(get_db)) -> dict:
    """The SMTP server of email alarms (``password_set`` instead of the password)."""
    return alarms.smtp_view(db)


@router.put("/alarm-settings/smtp", responses=CHANGE)
def update_smtp(
    body: dict[str, Any] = Body(
        ...,
        examples=[
            {
                "host": "smtp.example.org",
                "port": 587,
                "user": "otter",
                "password": "...",
                "tls": "starttls",
                "sender": "otter@example.org",
            }
        ],
    ),
    db: Session = Depends(get_db),
    actor: Actor = Depends(require_admin),
) -> dict:
    """Change the fields sent (``tls``: none, starttls or ssl); a password left out stays, ``""`` clears it."""
    return alarms.update_smtp(db, actor, body)

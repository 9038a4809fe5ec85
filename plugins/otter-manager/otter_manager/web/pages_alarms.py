"""The alarms page: rules (ADMIN changes them), the events they raised, and the SMTP settings of email
notifiers, on mgr-ops's alarm service (``manager/ops/alarm_service.py``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from otter_manager.ops import alarm_service as alarms
from otter_manager.ops.alarms import KINDS
from otter_manager.ops.notifiers import TLS_MODES
from otter_manager.security import Actor, ValidationProblem
from otter_manager.store import get_db
from otter_manager.web import forms
from otter_manager.web.render import (
    apply_change,
    denied,
    form_actor,
    form_data,
    page_actor,
    problem_status,
    redirect,
    render,
)

router = APIRouter(include_in_schema=False)
ALARMS_CHANGE = "change alarm rules and their settings"
EVENTS_SHOWN = 100


def rule_body(form: dict[str, Any]) -> dict[str, Any]:
    """A rule form as the service's body (notifiers as a YAML list)."""
    threshold = forms.text(form, "threshold")
    try:
        number = float(threshold) if threshold is not None else None
    except ValueError:
        raise ValidationProblem("threshold", f"expected a number of seconds, got {threshold!r}") from None
    return forms.without_none(
        {
            "name": forms.text(form, "name"),
            "kind": forms.text(form, "kind"),
            "threshold": number,
            "pattern": form.get("pattern", ""),
            "window": form.get("window", ""),
            "channel": form.get("channel", ""),
            "pipeline": form.get("pipeline", ""),
            "notifiers": forms.structured(form, "notifiers", (list,)),
            "auto_recover": forms.checkbox(form, "auto_recover"),
            "recover_max": forms.integer(form, "recover_max"),
            "enabled": forms.checkbox(form, "enabled"),
        }
    )


def smtp_body(form: dict[str, Any]) -> dict[str, Any]:
    """The SMTP form: an empty password keeps the stored one."""
    return forms.without_none(
        {
            "host": form.get("host", ""),
            "port": forms.integer(form, "port"),
            "user": form.get("user", ""),
            "password": forms.text(form, "password"),
            "tls": forms.text(form, "tls"),
            "sender": forms.text(form, "sender"),
        }
    )


def _alarms_page(
    request: Request,
    db: Session,
    actor: Actor,
    form: dict | None = None,
    errors: dict | None = None,
    smtp_errors: dict | None = None,
) -> HTMLResponse:
    defaults = {
        "kind": "delay",
        "threshold": 60,
        "notifiers": "- type: log",
        "recover_max": 3,
        "enabled": True,
    }
    problems = errors or smtp_errors
    return render(
        request,
        "alarms.html",
        {
            "active": "alarms",
            "title": "Alarms",
            "rules": [alarms.rule_view(r, actor) for r in alarms.list_rules(db)],
            "events": [alarms.event_view(e) for e in alarms.list_events(db, limit=EVENTS_SHOWN)],
            "smtp": alarms.smtp_view(db) if actor.is_admin else None,
            "kinds": list(KINDS),
            "tls_modes": list(TLS_MODES),
            "form": dict(defaults, **(form or {})),
            "errors": errors or {},
            "smtp_errors": smtp_errors or {},
        },
        actor,
        status_code=problem_status(problems) if problems else 200,
    )


@router.get("/alarms", response_class=HTMLResponse)
def alarms_page(request: Request, actor: Actor = Depends(page_actor), db: Session = Depends(get_db)):
    return _alarms_page(request, db, actor)


@router.post("/alarms", response_class=HTMLResponse)
async def alarms_create(request: Request, actor: Actor = Depends(form_actor), db: Session = Depends(get_db)):
    if (refusal := denied(request, actor, ALARMS_CHANGE)) is not None:
        return refusal
    form = await form_data(request)
    errors = apply_change(
        request,
        db,
        lambda: alarms.create_rule(db, actor, rule_body(form)),
        f"alarm rule {form.get('name')} created",
    )
    return _alarms_page(request, db, actor, form, errors) if errors else redirect("/alarms")


@router.post("/alarms/{rule_id}/toggle", response_class=HTMLResponse)
async def alarms_toggle(
    rule_id: int, request: Request, actor: Actor = Depends(form_actor), db: Session = Depends(get_db)
):
    if (refusal := denied(request, actor, ALARMS_CHANGE)) is not None:
        return refusal
    enable = (await form_data(request)).get("enabled") == "1"
    errors = apply_change(
        request,
        db,
        lambda: alarms.update_rule(db, actor, rule_id, {"enabled": enable}),
        f"alarm rule {'enabled' if enable else 'disabled'}",
    )
    return _alarms_page(request, db, actor, None, errors) if errors else redirect("/alarms")


@router.post("/alarms/{rule_id}/delete", response_class=HTMLResponse)
async def alarms_delete(
    rule_id: int, request: Request, actor: Actor = Depends(form_actor), db: Session = Depends(get_db)
):
    if (refusal := denied(request, actor, ALARMS_CHANGE)) is not None:
        return refusal
    errors = apply_change(request, db, lambda: alarms.delete_rule(db, actor, rule_id), "alarm rule deleted")
    return _alarms_page(request, db, actor, None, errors) if errors else redirect("/alarms")


@router.post("/alarms/smtp", response_class=HTMLResponse)
async def alarms_smtp(request: Request, actor: Actor = Depends(form_actor), db: Session = Depends(get_db)):
    if (refusal := denied(request, actor, ALARMS_CHANGE)) is not None:
        return refusal
    form = await form_data(request)
    errors = apply_change(
        request, db, lambda: alarms.update_smtp(db, actor, smtp_body(form)), "SMTP settings saved"
    )
    return _alarms_page(request, db, actor, None, None, errors) if errors else redirect("/alarms")

"""Alarm rules, alarm events and the SMTP settings in the store: checked, audited, never showing the SMTP
password back. Shared by the API and the pages."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from otter_core.spi import ConfigError
from otter_manager.errors import ConfigConflict
from otter_manager.ops.alarms import AlarmRule
from otter_manager.ops.notifiers import NOTIFIER_TYPES, TLS_MODES, build_notifier
from otter_manager.security import Actor, ValidationProblem, audit, mask_secrets
from otter_manager.services.common import fetch, only_fields, require_name
from otter_manager.store.monitoring import AlarmEventRow, AlarmRuleRow, SmtpSettingsRow

RULE_FIELDS = (
    "name",
    "kind",
    "threshold",
    "pattern",
    "window",
    "channel",
    "pipeline",
    "notifiers",
    "auto_recover",
    "recover_max",
    "enabled",
)
SMTP_FIELDS = ("host", "port", "user", "password", "tls", "sender")
_TYPES: dict[str, type | tuple[type, ...]] = {
    "name": str,
    "kind": str,
    "threshold": (int, float),
    "pattern": str,
    "window": str,
    "channel": str,
    "pipeline": str,
    "notifiers": list,
    "auto_recover": bool,
    "recover_max": int,
    "enabled": bool,
    "host": str,
    "port": int,
    "user": str,
    "password": str,
    "tls": str,
    "sender": str,
}


def rule_view(row: AlarmRuleRow, actor: Actor) -> dict[str, Any]:
    """The rule; for an OPERATOR (``actor`` not an ADMIN) its notifiers' secrets (webhook URLs) masked."""
    view = {"id": row.id, **{f: getattr(row, f) for f in RULE_FIELDS}}
    if not actor.is_admin:
        view["notifiers"] = mask_secrets(view["notifiers"])
    return view


def event_view(row: AlarmEventRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "at": row.at.isoformat() + "Z",
        "rule_id": row.rule_id,
        "rule": row.rule,
        "kind": row.kind,
        "channel": row.channel,
        "pipeline": row.pipeline,
        "message": row.message,
        "action": row.action,
        "failures": row.failures,
    }


def _typed(data: dict) -> dict:
    """``data`` with every value of the type its field takes (ValidationProblem naming the field otherwise)."""
    for field, value in data.items():
        expected = _TYPES[field]
        if isinstance(value, bool) and expected is not bool or not isinstance(value, expected):
            raise ValidationProblem(
                field, f"expected {getattr(expected, '__name__', 'a number')}, got {value!r}"
            )
    return data


def _checked_rule(values: dict[str, Any]) -> None:
    """ValidationProblem naming the field when the rule or one of its notifiers cannot work."""
    for index, spec in enumerate(values.get("notifiers") or []):
        if not isinstance(spec, dict) or spec.get("type") not in NOTIFIER_TYPES:
            raise ValidationProblem(
                f"notifiers[{index}].type", f"expected one of {', '.join(NOTIFIER_TYPES)}"
            )
        if spec["type"] != "email":
            try:
                build_notifier(spec, None)
            except ConfigError as exc:
                raise ValidationProblem(f"notifiers[{index}]", str(exc)) from None
        elif not isinstance(spec.get("to"), list) or not all(
            isinstance(a, str) and "@" in a for a in spec["to"]
        ):
            raise ValidationProblem(f"notifiers[{index}].to", "expected a list of email addresses")
    fields: dict[str, Any] = {
        k: (tuple(v) if k == "notifiers" else v) for k, v in values.items() if k != "name"
    }
    rule = AlarmRule(0, **fields, name=values["name"])
    try:
        rule.check()
    except ConfigError as exc:
        field, _, message = str(exc).partition(": ")
        raise ValidationProblem(field, message) from None


def list_rules(db: Session) -> list[AlarmRuleRow]:
    return list(db.scalars(select(AlarmRuleRow).order_by(AlarmRuleRow.id)).all())


def get_rule(db: Session, rule_id: Any) -> AlarmRuleRow:
    return fetch(db, AlarmRuleRow, rule_id, "alarm rule")


def _save(db: Session, row: AlarmRuleRow) -> None:
    try:
        db.flush()
    except IntegrityError:
        db.rollback()
        raise ConfigConflict(f"an alarm rule named {row.name!r} exists already") from None


def create_rule(db: Session, actor: Actor, data: Any) -> AlarmRuleRow:
    values = _typed(only_fields(data, RULE_FIELDS, "alarm rule"))
    require_name(values)
    if "kind" not in values:
        raise ValidationProblem("kind", "is required")
    defaults = {
        "threshold": 0.0,
        "pattern": "",
        "window": "",
        "channel": "",
        "pipeline": "",
        "notifiers": [{"type": "log"}],
        "auto_recover": False,
        "recover_max": 3,
        "enabled": True,
    }
    values = {**defaults, **values}
    _checked_rule(values)
    row = AlarmRuleRow(**values)
    db.add(row)
    _save(db, row)
    audit(db, actor, "create", f"alarm rule {row.name}", values)
    return row


def update_rule(db: Session, actor: Actor, rule_id: Any, data: Any) -> AlarmRuleRow:
    row = get_rule(db, rule_id)
    changes = _typed(only_fields(data, RULE_FIELDS, "alarm rule"))
    values = {**rule_view(row, actor), **changes}
    values.pop("id")
    if "name" in changes:
        require_name(values)
    _checked_rule(values)
    for field, value in changes.items():
        setattr(row, field, value)
    _save(db, row)
    audit(db, actor, "update", f"alarm rule {row.name}", changes)
    return row


def delete_rule(db: Session, actor: Actor, rule_id: Any) -> None:
    row = get_rule(db, rule_id)
    db.delete(row)
    audit(db, actor, "delete", f"alarm rule {row.name}")


def list_events(
    db: Session, limit: int = 100, channel: str | None = None, before_id: int | None = None
) -> list[AlarmEventRow]:
    query = select(AlarmEventRow).order_by(AlarmEventRow.id.desc()).limit(limit)
    if channel:
        query = query.where(AlarmEventRow.channel == channel)
    if before_id is not None:
        query = query.where(AlarmEventRow.id < before_id)
    return list(db.scalars(query).all())


def smtp_view(db: Session) -> dict[str, Any]:
    row = db.get(SmtpSettingsRow, 1) or SmtpSettingsRow(
        host="", port=25, user="", password="", tls="none", sender="otter@localhost"
    )
    return {
        "host": row.host,
        "port": row.port,
        "user": row.user,
        "password_set": bool(row.password),
        "tls": row.tls,
        "sender": row.sender,
    }


def update_smtp(db: Session, actor: Actor, data: Any) -> dict[str, Any]:
    """Change the fields sent; a password left out stays, ``""`` clears it."""
    changes = _typed(only_fields(data, SMTP_FIELDS, "SMTP settings"))
    if "tls" in changes and changes["tls"] not in TLS_MODES:
        raise ValidationProblem("tls", f"expected one of {', '.join(TLS_MODES)}")
    if "port" in changes and not 0 < changes["port"] < 65536:
        raise ValidationProblem("port", "expected a TCP port (1-65535)")
    row = db.get(SmtpSettingsRow, 1)
    if row is None:
        row = SmtpSettingsRow(
            id=1, host="", port=25, user="", password="", tls="none", sender="otter@localhost"
        )
        db.add(row)
    for field, value in changes.items():
        setattr(row, field, value)
    db.flush()
    audit(db, actor, "update", "smtp settings", changes)
    return smtp_view(db)

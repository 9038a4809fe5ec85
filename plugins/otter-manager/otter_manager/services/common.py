"""Small pieces every config service uses: fetching by id, field checks, the id/name rules."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from otter_manager.errors import ObjectNotFound
from otter_manager.security import ValidationProblem

T = TypeVar("T")
ID_LIMIT = 2**63  # ids are 64-bit signed in every store; a bigger number names nothing (and overflows SQLite)
NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


def is_id(value: Any) -> bool:
    """An integer a store can hold as an id (not a bool, within 64 bits)."""
    return isinstance(value, int) and not isinstance(value, bool) and -ID_LIMIT <= value < ID_LIMIT


def fetch(db: Session, model: type[T], object_id: Any, kind: str) -> T:
    """The object with ``object_id``; ObjectNotFound (404) naming the kind and id otherwise."""
    if not is_id(object_id):
        raise ObjectNotFound(kind, object_id)
    found = db.get(model, object_id)
    if found is None:
        raise ObjectNotFound(kind, object_id)
    return found


def reference(db: Session, model: type[T], data: dict, field: str, kind: str) -> T:
    """The object a body field points to by id; a ValidationProblem (422) on that field if it is not there."""
    value = data.get(field)
    if value is None:
        raise ValidationProblem(field, "is required")
    if not is_id(value):
        raise ValidationProblem(field, f"expected the id of a {kind} (an integer below 2^63), got {value!r}")
    found = db.get(model, value)
    if found is None:
        raise ValidationProblem(field, f"no {kind} with id {value}")
    return found


def only_fields(data: Any, allowed: Iterable[str], what: str) -> dict:
    """``data`` as a dict, refusing keys not in ``allowed`` (a misspelt field must not be silently dropped)."""
    if not isinstance(data, dict):
        raise ValidationProblem(what, f"expected a JSON object, got {type(data).__name__}")
    allowed = set(allowed)
    for key in data:
        if key not in allowed:
            raise ValidationProblem(
                str(key), f"unknown field of a {what} (allowed: {', '.join(sorted(allowed))})"
            )
    return dict(data)


def require_name(data: dict, field: str = "name") -> str:
    value = data.get(field)
    if value in (None, ""):
        raise ValidationProblem(field, "is required")
    if not isinstance(value, str) or not NAME.match(value):
        raise ValidationProblem(
            field, f"{value!r}: use 1-128 letters, digits, '_', '.' or '-', not starting with '.' or '-'"
        )
    return value


def optional_text(data: dict, field: str, default: str | None = None) -> str | None:
    value = data.get(field, default)
    if value is not None and not isinstance(value, str):
        raise ValidationProblem(field, f"expected a string, got {type(value).__name__}")
    return value


def merged(current: dict, changes: dict) -> dict:
    """An update: the stored fields with the given ones on top."""
    result = dict(current)
    result.update(changes)
    return result

"""Errors the manager's services raise; the app turns them into 404 / 409 (ValidationProblem: 422)."""

from __future__ import annotations

from otter_manager.security import ValidationProblem

__all__ = ["ObjectNotFound", "ConfigConflict", "ValidationProblem"]


class ObjectNotFound(LookupError):
    """No object of that kind with that id (404)."""

    def __init__(self, kind: str, object_id: object) -> None:
        super().__init__(f"{kind} {object_id} does not exist")
        self.kind = kind
        self.object_id = object_id


class ConfigConflict(Exception):
    """The change clashes with the stored config: a duplicate name, or an object still in use (409)."""

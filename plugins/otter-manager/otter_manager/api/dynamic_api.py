"""Dynamic hooks API (otter-dynamic): any user reads versions and their text; only an ADMIN pushes a new
version (validated, never run here) or activates one. Running pipelines swap to it between batches."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.openapi.models import Example
from fastapi.responses import PlainTextResponse
from sqlalchemy.orm import Session

from otter_manager.api.common import CHANGE, NOT_FOUND, OPERATOR
from otter_manager.security import Actor, require_admin
from otter_manager.services import dynamic_service as dynamic
from otter_manager.store import get_db

# Mounted through the entry point ``otter.manager_routes: dynamic-api`` (otter-manager's setup.cfg).
router = APIRouter(prefix="/api", tags=["dynamic"])
PUSH_EXAMPLE: dict[str, Example] = {
    "vat": {
        "value": {
            "kind": "processor",
            "comment": "VAT 7%",
            "activate": True,
            "source": "import attrs\n\ndef process(event):\n    return event\n",
        }
    }
}


def _state_dir(request: Request):
    return request.app.state.settings.state_dir


@router.get("/dynamic", dependencies=OPERATOR)
def list_hooks(request: Request) -> list[dict]:
    return dynamic.list_hooks(_state_dir(request))


@router.get("/dynamic/{name}", dependencies=OPERATOR, responses=NOT_FOUND)
def get_hook(name: str, request: Request) -> dict:
    """Versions (author, comment, sha256, active) and what the pipelines last loaded."""
    return dynamic.hook_view(_state_dir(request), name)


@router.get(
    "/dynamic/{name}/versions/{version}",
    dependencies=OPERATOR,
    responses=NOT_FOUND,
    response_class=PlainTextResponse,
)
def get_source(name: str, version: int, request: Request) -> str:
    return dynamic.version_source(_state_dir(request), name, version)


@router.post("/dynamic/{name}", status_code=201, responses=CHANGE)
def push(
    name: str,
    request: Request,
    body: dict[str, Any] = Body(..., openapi_examples=PUSH_EXAMPLE),
    db: Session = Depends(get_db),
    actor: Actor = Depends(require_admin),
) -> dict:
    """A new version: ``source`` (Python text), ``kind`` processor | resolver, ``comment``, ``activate``.
    A syntax error or a missing hook function answers 422 with each problem's line."""
    return dynamic.push(db, actor, _state_dir(request), name, body)


@router.post("/dynamic/{name}/activate", responses=CHANGE)
def activate(
    name: str,
    request: Request,
    body: dict[str, Any] = Body(..., examples=[{"version": 2}]),
    db: Session = Depends(get_db),
    actor: Actor = Depends(require_admin),
) -> dict:
    """Make ``version`` the active one (also to roll back)."""
    return dynamic.activate(db, actor, _state_dir(request), name, body.get("version"))

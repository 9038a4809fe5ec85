"""YAML import and export: the same file ``otter-run run`` reads."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse
from sqlalchemy.orm import Session

from otter_manager.api.common import CHANGE, NOT_FOUND, OPERATOR
from otter_manager.security import Actor, ValidationProblem, require_admin
from otter_manager.services import config_service as config
from otter_manager.store import get_db

router = APIRouter(prefix="/api/config", tags=["config"])
YAML_BODY = {
    "requestBody": {"required": True, "content": {"application/yaml": {"schema": {"type": "string"}}}}
}


@router.get(
    "/export",
    dependencies=OPERATOR,
    response_class=PlainTextResponse,
    responses={
        **NOT_FOUND,
        409: {"description": "the channel is not complete, or the store is empty"},
        200: {"content": {"application/yaml": {}}},
    },
)
def export_config(channel: str | None = None, db: Session = Depends(get_db)) -> PlainTextResponse:
    """The pipeline YAML of one channel (``?channel=NAME``) or of every complete channel; stored passwords
    appear as ``password_env: OTTER_PASSWORD_<SOURCE>``, never in full."""
    return PlainTextResponse(config.export_yaml(db, channel), media_type="application/yaml")


@router.post("/import", responses=CHANGE, openapi_extra=YAML_BODY)
async def import_config(
    request: Request,
    filename: str = "import.yaml",
    db: Session = Depends(get_db),
    actor: Actor = Depends(require_admin),
) -> dict:
    """Apply a pipeline YAML (request body, UTF-8) to the store, all or nothing; a file ``otter-run run``
    would refuse answers 422 with the reader's message (file:line and key)."""
    raw = await request.body()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationProblem("yaml", f"the body is not UTF-8 text (byte {exc.start})") from None
    return config.import_yaml(db, actor, text, filename)

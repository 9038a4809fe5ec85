"""Config API: sources (+ connection test), media and channels. Reading needs a login; changing needs an
ADMIN and the CSRF header. Pipelines and pairs: ``pipeline_api``; YAML import/export: ``config_io_api``."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from otter_manager.api.common import CHANGE, NOT_FOUND, OPERATOR
from otter_manager.api.schemas import ChannelIn, ChannelPatch, MediaIn, MediaPatch, SourceIn, SourcePatch
from otter_manager.security import Actor, mask_secrets, require_admin, require_operator
from otter_manager.services import config_service as config
from otter_manager.services.views import channel_view, media_view, source_view
from otter_manager.store import get_db

router = APIRouter(prefix="/api", tags=["config"])


def _shown(view: dict, actor: Actor) -> dict:
    """An OPERATOR sees the options' secrets (tokens, URLs with credentials) masked."""
    return view if actor.is_admin else {**view, "options": mask_secrets(view["options"])}


@router.get("/sources")
def list_sources(db: Session = Depends(get_db), actor: Actor = Depends(require_operator)) -> list[dict]:
    """Every data source; passwords are never returned (``password_set`` says whether one is stored),
    and an OPERATOR sees the secrets in ``options`` masked."""
    return [_shown(source_view(s), actor) for s in config.list_sources(db)]


@router.get("/sources/{source_id}", responses=NOT_FOUND)
def get_source(
    source_id: int, db: Session = Depends(get_db), actor: Actor = Depends(require_operator)
) -> dict:
    return _shown(source_view(config.get_source(db, source_id)), actor)


@router.post("/sources", status_code=201, responses=CHANGE)
def create_source(
    body: SourceIn, db: Session = Depends(get_db), actor: Actor = Depends(require_admin)
) -> dict:
    return source_view(config.create_source(db, actor, body.values()))


@router.patch("/sources/{source_id}", responses=CHANGE)
def update_source(
    source_id: int, body: SourcePatch, db: Session = Depends(get_db), actor: Actor = Depends(require_admin)
) -> dict:
    """Change the fields sent; a password left out stays as it is, ``""`` clears it."""
    return source_view(config.update_source(db, actor, source_id, body.changes()))


@router.delete("/sources/{source_id}", status_code=204, responses=CHANGE)
def delete_source(
    source_id: int, db: Session = Depends(get_db), actor: Actor = Depends(require_admin)
) -> None:
    config.delete_source(db, actor, source_id)


@router.post("/sources/{source_id}/test", responses=NOT_FOUND)
def test_source(
    source_id: int, db: Session = Depends(get_db), _actor: Actor = Depends(require_operator)
) -> dict:
    """Try to connect: ``{"ok": true|false, "message": ...}`` (the server's version or the error)."""
    return config.test_source(db, source_id)


@router.get("/media", dependencies=OPERATOR)
def list_media(source_id: int | None = None, db: Session = Depends(get_db)) -> list[dict]:
    return [media_view(m) for m in config.list_media(db, source_id)]


@router.get("/media/{media_id}", dependencies=OPERATOR, responses=NOT_FOUND)
def get_media(media_id: int, db: Session = Depends(get_db)) -> dict:
    return media_view(config.get_media(db, media_id))


@router.post("/media", status_code=201, responses=CHANGE)
def create_media(body: MediaIn, db: Session = Depends(get_db), actor: Actor = Depends(require_admin)) -> dict:
    return media_view(config.create_media(db, actor, body.values()))


@router.patch("/media/{media_id}", responses=CHANGE)
def update_media(
    media_id: int, body: MediaPatch, db: Session = Depends(get_db), actor: Actor = Depends(require_admin)
) -> dict:
    return media_view(config.update_media(db, actor, media_id, body.changes()))


@router.delete("/media/{media_id}", status_code=204, responses=CHANGE)
def delete_media(media_id: int, db: Session = Depends(get_db), actor: Actor = Depends(require_admin)) -> None:
    config.delete_media(db, actor, media_id)


@router.get("/channels", dependencies=OPERATOR)
def list_channels(db: Session = Depends(get_db)) -> list[dict]:
    return [channel_view(c) for c in config.list_channels(db)]


@router.get("/channels/{channel_id}", dependencies=OPERATOR, responses=NOT_FOUND)
def get_channel(channel_id: int, db: Session = Depends(get_db)) -> dict:
    return channel_view(config.get_channel(db, channel_id))


@router.post("/channels", status_code=201, responses=CHANGE)
def create_channel(
    body: ChannelIn, db: Session = Depends(get_db), actor: Actor = Depends(require_admin)
) -> dict:
    return channel_view(config.create_channel(db, actor, body.values()))


@router.patch("/channels/{channel_id}", responses=CHANGE)
def update_channel(
    channel_id: int, body: ChannelPatch, db: Session = Depends(get_db), actor: Actor = Depends(require_admin)
) -> dict:
    return channel_view(config.update_channel(db, actor, channel_id, body.changes()))


@router.delete("/channels/{channel_id}", status_code=204, responses=CHANGE)
def delete_channel(
    channel_id: int, db: Session = Depends(get_db), actor: Actor = Depends(require_admin)
) -> None:
    """Delete the channel with its pipelines and pairs."""
    config.delete_channel(db, actor, channel_id)

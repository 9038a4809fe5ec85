"""Config API: pipelines and pairs (reading needs a login; changing needs an ADMIN and the CSRF header)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from otter_manager.api.common import CHANGE, NOT_FOUND, OPERATOR
from otter_manager.api.schemas import PairIn, PairPatch, PipelineIn, PipelinePatch
from otter_manager.security import Actor, require_admin
from otter_manager.services import config_service as config
from otter_manager.services.views import pair_view, pipeline_view
from otter_manager.store import get_db

router = APIRouter(prefix="/api", tags=["config"])


@router.get("/pipelines", dependencies=OPERATOR)
def list_pipelines(channel_id: int | None = None, db: Session = Depends(get_db)) -> list[dict]:
    return [pipeline_view(p) for p in config.list_pipelines(db, channel_id)]


@router.get("/pipelines/{pipeline_id}", dependencies=OPERATOR, responses=NOT_FOUND)
def get_pipeline(pipeline_id: int, db: Session = Depends(get_db)) -> dict:
    return pipeline_view(config.get_pipeline(db, pipeline_id))


@router.post("/pipelines", status_code=201, responses=CHANGE)
def create_pipeline(
    body: PipelineIn, db: Session = Depends(get_db), actor: Actor = Depends(require_admin)
) -> dict:
    return pipeline_view(config.create_pipeline(db, actor, body.values()))


@router.patch("/pipelines/{pipeline_id}", responses=CHANGE)
def update_pipeline(
    pipeline_id: int,
    body: PipelinePatch,
    db: Session = Depends(get_db),
    actor: Actor = Depends(require_admin),
) -> dict:
    return pipeline_view(config.update_pipeline(db, actor, pipeline_id, body.changes()))


@router.delete("/pipelines/{pipeline_id}", status_code=204, responses=CHANGE)
def delete_pipeline(
    pipeline_id: int, db: Session = Depends(get_db), actor: Actor = Depends(require_admin)
) -> None:
    config.delete_pipeline(db, actor, pipeline_id)


@router.get("/pairs", dependencies=OPERATOR)
def list_pairs(pipeline_id: int | None = None, db: Session = Depends(get_db)) -> list[dict]:
    return [pair_view(p) for p in config.list_pairs(db, pipeline_id)]


@router.get("/pairs/{pair_id}", dependencies=OPERATOR, responses=NOT_FOUND)
def get_pair(pair_id: int, db: Session = Depends(get_db)) -> dict:
    return pair_view(config.get_pair(db, pair_id))


@router.post("/pairs", status_code=201, responses=CHANGE)
def create_pair(body: PairIn, db: Session = Depends(get_db), actor: Actor = Depends(require_admin)) -> dict:
    return pair_view(config.create_pair(db, actor, body.values()))


@router.patch("/pairs/{pair_id}", responses=CHANGE)
def update_pair(
    pair_id: int, body: PairPatch, db: Session = Depends(get_db), actor: Actor = Depends(require_admin)
) -> dict:
    return pair_view(config.update_pair(db, actor, pair_id, body.changes()))


@router.delete("/pairs/{pair_id}", status_code=204, responses=CHANGE)
def delete_pair(pair_id: int, db: Session = Depends(get_db), actor: Actor = Depends(require_admin)) -> None:
    config.delete_pair(db, actor, pair_id)

"""Pipelines and pairs: create, update, delete, list. Values are checked by the YAML reader of
``otter_core.config`` (the same rules and messages as a file), plugin names against what is installed, and a
complete channel as a whole (see ``yaml_shapes.check_channel``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from otter_core.config import _Reader
from otter_core.spi import ConfigError
from otter_manager.errors import ConfigConflict
from otter_manager.security import Actor, ValidationProblem, audit
from otter_manager.services.common import fetch, merged, only_fields, reference, require_name
from otter_manager.services.plugin_names import check_plugin, config_problem
from otter_manager.services.source_service import find_or_create_media
from otter_manager.services.yaml_shapes import check_channel, pair_shape
from otter_manager.store import Channel, DataMedia, DataSource, Pair, Pipeline

PIPELINE_FIELDS = (
    "channel_id",
    "name",
    "source_id",
    "target_id",
    "start",
    "parameters",
    "selector",
    "loader",
    "pipe",
    "arbitrator",
    "exclude",
    "home",
    "snapshot",
)
PAIR_VALUES = (
    "columns",
    "column_mode",
    "column_groups",
    "push_weight",
    "processors",
    "processor_options",
    "filter",
    "file_resolver",
    "conflict",
)  # stored as given once the reader accepted them
PAIR_FIELDS = (
    "pipeline_id",
    "source_media_id",
    "target_media_id",
    "source",
    "target",
    "target_source_id",
    *PAIR_VALUES,
)


def list_pipelines(db: Session, channel_id: int | None = None) -> list[Pipeline]:
    query = select(Pipeline).order_by(Pipeline.channel_id, Pipeline.id)
    if channel_id is not None:
        query = query.where(Pipeline.channel_id == channel_id)
    return list(db.scalars(query))


def get_pipeline(db: Session, pipeline_id: Any) -> Pipeline:
    return fetch(db, Pipeline, pipeline_id, "pipeline")


def _read(prefix: str, check) -> Any:
    try:
        return check(_Reader(prefix))
    except ConfigError as exc:
        raise config_problem(exc, prefix) from None


def _pipeline_values(db: Session, data: dict, current: Pipeline | None) -> dict[str, Any]:
    channel = reference(db, Channel, data, "channel_id", "channel")
    name = require_name(data)
    siblings = [p for p in channel.pipelines if p is not current]
    if any(p.name == name for p in siblings):
        raise ConfigConflict(f"channel {channel.name!r} has a pipeline named {name!r} already")
    if len(siblings) >= 2:
        raise ValidationProblem(
            "channel_id", f"channel {channel.name!r} has two pipelines already (one-way: one, two-way: two)"
        )
    source = reference(db, DataSource, data, "source_id", "source")
    target = reference(db, DataSource, data, "target_id", "source")
    for field, kind in (
        ("selector", "selector"),
        ("loader", "loader"),
        ("pipe", "pipe"),
        ("arbitrator", "arbitrator"),
    ):
        if data.get(field) is not None:
            check_plugin(field, data[field], kind)
    node = {
        key: data.get(key)
        for key in ("start", "parameters", "exclude", "home", "snapshot")
        if data.get(key) is not None
    }
    _read(
        "pipeline",
        lambda r: (
            r.start(node, "pipeline"),
            r.parameters(node.get("parameters"), "pipeline.parameters", node),
            r.excludes(node, "pipeline"),
            r.flag(node, "home", "pipeline"),
            r.snapshot(node, "pipeline"),
        ),
    )
    return {
        "channel_id": channel.id,
        "name": name,
        "source_id": source.id,
        "target_id": target.id,
        "start": data.get("start") or "current",
        "parameters": data.get("parameters") or {},
        "selector": data.get("selector"),
        "loader": data.get("loader"),
        "pipe": data.get("pipe") or "memory",
        "arbitrator": data.get("arbitrator") or "memory",
        "exclude": _as_list(data.get("exclude")),
        "home": bool(data.get("home", False)),
        "snapshot": data.get("snapshot") or None,
    }


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _pipeline_fields(pipeline: Pipeline) -> dict[str, Any]:
    return {key: getattr(pipeline, key) for key in PIPELINE_FIELDS}


def create_pipeline(db: Session, actor: Actor, data: Any) -> Pipeline:
    data = only_fields(data, PIPELINE_FIELDS, "pipeline")
    pipeline = Pipeline(**_pipeline_values(db, data, None))
    db.add(pipeline)
    db.flush()
    db.refresh(pipeline.channel)
    check_channel(pipeline.channel)
    audit(db, actor, "create", f"pipeline {pipeline.channel.name}/{pipeline.name}", data)
    db.commit()
    return pipeline


def update_pipeline(db: Session, actor: Actor, pipeline_id: Any, data: Any) -> Pipeline:
    pipeline = get_pipeline(db, pipeline_id)
    data = only_fields(data, PIPELINE_FIELDS, "pipeline")
    values = _pipeline_values(db, merged(_pipeline_fields(pipeline), data), pipeline)
    old_channel = pipeline.channel
    for key, value in values.items():
        setattr(pipeline, key, value)
    db.flush()
    db.refresh(pipeline)
    for channel in {old_channel, pipeline.channel}:
        db.refresh(channel)
        check_channel(channel)
    audit(db, actor, "update", f"pipeline {pipeline.channel.name}/{pipeline.name}", data)
    db.commit()
    return pipeline


def delete_pipeline(db: Session, actor: Actor, pipeline_id: Any) -> None:
    pipeline = get_pipeline(db, pipeline_id)
    channel = pipeline.channel
    audit(db, actor, "delete", f"pipeline {channel.name}/{pipeline.name}")
    db.delete(pipeline)
    db.flush()
    db.refresh(channel)
    check_channel(channel)
    db.commit()


# --- pairs ----------------------------------------------------------------------------------------------


def list_pairs(db: Session, pipeline_id: int | None = None) -> list[Pair]:
    query = select(Pair).order_by(Pair.pipeline_id, Pair.id)
    if pipeline_id is not None:
        query = query.where(Pair.pipeline_id == pipeline_id)
    return list(db.scalars(query))


def get_pair(db: Session, pair_id: Any) -> Pair:
    return fetch(db, Pair, pair_id, "pair")


def _media(db: Session, data: dict, side: str, source: DataSource, fallback: Any = None) -> DataMedia:
    """The pair's ``side`` media: by ``<side>_media_id``, or by a ``schema.table`` name (made if missing)."""
    id_field = f"{side}_media_id"
    if data.get(id_field) is not None:
        media = reference(db, DataMedia, data, id_field, "media")
        if media.source_id != source.id:
            raise ValidationProblem(
                id_field,
                f"media {media.full_name} (id {media.id}) is on source "
                f"{media.source.name!r}; this side of the pair is {source.name!r}",
            )
        return media
    text = data.get(side) if data.get(side) is not None else fallback
    if not isinstance(text, str) or "." not in text.strip("."):
        raise ValidationProblem(
            id_field if text is None else side,
            f"give {id_field} or {side} as 'schema.table' (a name, pattern or /regex/)",
        )
    schema, name = text.split(".", 1)
    return find_or_create_media(db, source, schema, name)


def _pair_values(db: Session, data: dict) -> dict[str, Any]:
    pipeline = reference(db, Pipeline, data, "pipeline_id", "pipeline")
    source_media = _media(db, data, "source", pipeline.source)
    target_source = pipeline.target
    if data.get("target_source_id") is not None:
        target_source = reference(db, DataSource, data, "target_source_id", "source")
    target_media = _media(db, data, "target", target_source, fallback=source_media.full_name)
    for i, name in enumerate(_as_list(data.get("processors"))):
        check_plugin(f"processors[{i}]", name, "processor")
    resolver = data.get("file_resolver")
    if resolver is not None:
        check_plugin(
            "file_resolver", resolver.get("name") if isinstance(resolver, dict) else resolver, "file_resolver"
        )
    values = {key: data.get(key) for key in PAIR_VALUES}
    values["processors"] = _as_list(values["processors"])
    node = {
        "source": source_media.full_name,
        "target": target_media.full_name,
        **{k: v for k, v in values.items() if v is not None},
    }
    sources = {name: None for name in db.scalars(select(DataSource.name))}
    _read("pair", lambda r: r.pair(node, "pair", sources))
    return {
        "pipeline_id": pipeline.id,
        "source_media_id": source_media.id,
        "target_media_id": target_media.id,
        "columns": values["columns"],
        "column_mode": values["column_mode"] or "include",
        "column_groups": values["column_groups"] or [],
        "push_weight": 5 if values["push_weight"] is None else values["push_weight"],
        "processors": values["processors"],
        "processor_options": values["processor_options"] or {},
        "filter": values["filter"],
        "file_resolver": values["file_resolver"],
        "conflict": values["conflict"],
    }


def _pair_fields(pair: Pair) -> dict[str, Any]:
    fields = {key: getattr(pair, key) for key in PAIR_VALUES}
    fields.update(
        pipeline_id=pair.pipeline_id,
        source_media_id=pair.source_media_id,
        target_media_id=pair.target_media_id,
        target_source_id=pair.target_media.source_id,
    )
    return fields


def _describe(pair: Pair) -> str:
    return f"pair {pair.pipeline.channel.name}/{pair.pipeline.name}:{pair.source_media.full_name}"


def _save_pair(db: Session, pair: Pair) -> None:
    db.flush()
    db.refresh(pair)
    db.refresh(pair.pipeline)
    check_channel(pair.pipeline.channel)
    pair_shape(pair, pair.pipeline.target.name)  # every stored pair can be exported


def create_pair(db: Session, actor: Actor, data: Any) -> Pair:
    data = only_fields(data, PAIR_FIELDS, "pair")
    pair = Pair(**_pair_values(db, data))
    db.add(pair)
    _save_pair(db, pair)
    audit(db, actor, "create", _describe(pair), data)
    db.commit()
    return pair


def update_pair(db: Session, actor: Actor, pair_id: Any, data: Any) -> Pair:
    pair = get_pair(db, pair_id)
    data = only_fields(data, PAIR_FIELDS, "pair")
    current = _pair_fields(pair)
    if "source" in data:
        current.pop("source_media_id")
    if "target" in data:
        current.pop("target_media_id")
    for key, value in _pair_values(db, merged(current, data)).items():
        setattr(pair, key, value)
    _save_pair(db, pair)
    audit(db, actor, "update", _describe(pair), data)
    db.commit()
    return pair


def delete_pair(db: Session, actor: Actor, pair_id: Any) -> None:
    pair = get_pair(db, pair_id)
    pipeline = pair.pipeline
    audit(db, actor, "delete", _describe(pair))
    db.delete(pair)
    db.flush()
    db.refresh(pipeline)
    check_channel(pipeline.channel)
    db.commit()

"""Data sources and data media: create, update, delete, list, and a connection test."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from otter_manager.errors import ConfigConflict
from otter_manager.security import Actor, ValidationProblem, audit
from otter_manager.services.common import (
    fetch,
    merged,
    only_fields,
    optional_text,
    reference,
    require_name,
)
from otter_manager.services.plugin_names import check_plugin
from otter_manager.services.views import source_view
from otter_manager.store import DataMedia, DataSource, Pair, Pipeline

SOURCE_FIELDS = ("name", "type", "host", "port", "user", "password", "password_env", "encoding", "options")
MEDIA_FIELDS = ("source_id", "schema", "name")


def list_sources(db: Session) -> list[DataSource]:
    return list(db.scalars(select(DataSource).order_by(DataSource.name)))


def get_source(db: Session, source_id: Any) -> DataSource:
    return fetch(db, DataSource, source_id, "source")


def _source_values(db: Session, data: dict, current: DataSource | None) -> dict[str, Any]:
    name = require_name(data)
    clash = db.scalar(select(DataSource).where(DataSource.name == name))
    if clash is not None and clash is not current:
        raise ConfigConflict(f"a source named {name!r} exists already (id {clash.id})")
    check_plugin("type", data.get("type"), "selector", "loader")
    port = data.get("port", 3306)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise ValidationProblem("port", f"expected a port number 1-65535, got {port!r}")
    options = data.get("options") or {}
    if not isinstance(options, dict):
        raise ValidationProblem("options", "expected a JSON object of plugin settings")
    values = {
        "name": name,
        "type": data["type"],
        "port": port,
        "options": options,
        "host": optional_text(data, "host", "127.0.0.1") or "127.0.0.1",
        "user": optional_text(data, "user", "root") or "root",
        "encoding": optional_text(data, "encoding", "utf8mb4") or "utf8mb4",
        "password_env": optional_text(data, "password_env") or None,
    }
    password = optional_text(data, "password")
    if password is not None:  # None: keep the stored one
        values["password"] = password
    return values


def create_source(db: Session, actor: Actor, data: Any) -> DataSource:
    data = only_fields(data, SOURCE_FIELDS, "source")
    source = DataSource(**{"password": "", **_source_values(db, data, None)})
    db.add(source)
    db.flush()
    audit(db, actor, "create", f"source {source.name}", data)
    db.commit()
    return source


def update_source(db: Session, actor: Actor, source_id: Any, data: Any) -> DataSource:
    source = get_source(db, source_id)
    data = only_fields(data, SOURCE_FIELDS, "source")
    current = {k: v for k, v in source_view(source).items() if k in SOURCE_FIELDS}
    for key, value in _source_values(db, merged(current, data), source).items():
        setattr(source, key, value)
    audit(db, actor, "update", f"source {source.name}", data)
    db.commit()
    return source


def delete_source(db: Session, actor: Actor, source_id: Any) -> None:
    source = get_source(db, source_id)
    users = db.scalars(
        select(Pipeline).where(or_(Pipeline.source_id == source.id, Pipeline.target_id == source.id))
    ).all()
    if users:
        names = ", ".join(f"{p.channel.name}/{p.name}" for p in users)
        raise ConfigConflict(
            f"source {source.name!r} is used by pipeline(s) {names}: delete or change them first"
        )
    for media in db.scalars(select(DataMedia).where(DataMedia.source_id == source.id)):
        _refuse_if_paired(db, media)
        db.delete(media)
    audit(db, actor, "delete", f"source {source.name}")
    db.delete(source)
    db.commit()


def test_source(db: Session, source_id: Any) -> dict[str, Any]:
    """Try to connect to the source: ``{"ok": bool, "message": text}`` (the password never appears)."""
    from otter_manager.services.connection_test import try_connect

    source = get_source(db, source_id)
    ok, message = try_connect(source)
    return {"ok": ok, "message": message, "source": source_view(source)["name"]}


# --- data media -------------------------------------------------------------------------------------------


def list_media(db: Session, source_id: int | None = None) -> list[DataMedia]:
    query = select(DataMedia).order_by(DataMedia.source_id, DataMedia.schema_name, DataMedia.name)
    if source_id is not None:
        query = query.where(DataMedia.source_id == source_id)
    return list(db.scalars(query))


def get_media(db: Session, media_id: Any) -> DataMedia:
    return fetch(db, DataMedia, media_id, "media")


def _media_values(db: Session, data: dict, current: DataMedia | None) -> dict[str, Any]:
    source = reference(db, DataSource, data, "source_id", "source")
    values = {}
    for field in ("schema", "name"):
        value = data.get(field)
        if not isinstance(value, str) or not value.strip():
            raise ValidationProblem(
                field, "is required: a name, a pattern like shop_* or offer[1-32], or /regex/"
            )
        if value.startswith("/") and value.endswith("/") and len(value) > 1:
            import re

            try:
                re.compile(value[1:-1])
            except re.error as exc:
                raise ValidationProblem(field, f"bad regular expression {value!r}: {exc}") from None
        values[field] = value.strip()
    clash = db.scalar(
        select(DataMedia).where(
            DataMedia.source_id == source.id,
            DataMedia.schema_name == values["schema"],
            DataMedia.name == values["name"],
        )
    )
    if clash is not None and clash is not current:
        raise ConfigConflict(
            f"media {values['schema']}.{values['name']} of source {source.name!r} exists "
            f"already (id {clash.id})"
        )
    return {"source_id": source.id, "schema_name": values["schema"], "name": values["name"]}


def create_media(db: Session, actor: Actor, data: Any) -> DataMedia:
    data = only_fields(data, MEDIA_FIELDS, "media")
    media = DataMedia(**_media_values(db, data, None))
    db.add(media)
    db.flush()
    audit(db, actor, "create", f"media {media.source.name}:{media.full_name}", data)
    db.commit()
    return media


def find_or_create_media(db: Session, source: DataSource, schema: str, name: str) -> DataMedia:
    """The media ``schema.name`` of ``source``, created if missing (pairs may name tables directly)."""
    media = db.scalar(
        select(DataMedia).where(
            DataMedia.source_id == source.id, DataMedia.schema_name == schema, DataMedia.name == name
        )
    )
    if media is None:
        media = DataMedia(**_media_values(db, {"source_id": source.id, "schema": schema, "name": name}, None))
        db.add(media)
        db.flush()
    return media


def update_media(db: Session, actor: Actor, media_id: Any, data: Any) -> DataMedia:
    media = get_media(db, media_id)
    data = only_fields(data, MEDIA_FIELDS, "media")
    current = {"source_id": media.source_id, "schema": media.schema_name, "name": media.name}
    for key, value in _media_values(db, merged(current, data), media).items():
        setattr(media, key, value)
    db.flush()
    audit(db, actor, "update", f"media {media.source.name}:{media.full_name}", data)
    db.commit()
    return media


def _refuse_if_paired(db: Session, media: DataMedia) -> None:
    count = db.scalar(
        select(func.count())
        .select_from(Pair)
        .where(or_(Pair.source_media_id == media.id, Pair.target_media_id == media.id))
    )
    if count:
        raise ConfigConflict(
            f"media {media.full_name} (id {media.id}) is used by {count} pair(s): delete them first"
        )


def delete_media(db: Session, actor: Actor, media_id: Any) -> None:
    media = get_media(db, media_id)
    _refuse_if_paired(db, media)
    audit(db, actor, "delete", f"media {media.source.name}:{media.full_name}")
    db.delete(media)
    db.commit()

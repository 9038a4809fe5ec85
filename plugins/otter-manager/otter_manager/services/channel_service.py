"""Channels: create, rename, delete (with their pipelines and pairs), list."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from otter_manager.errors import ConfigConflict
from otter_manager.security import Actor, audit
from otter_manager.services.common import fetch, merged, only_fields, optional_text, require_name
from otter_manager.store import Channel

CHANNEL_FIELDS = ("name", "description")


def list_channels(db: Session) -> list[Channel]:
    return list(db.scalars(select(Channel).order_by(Channel.name)))


def get_channel(db: Session, channel_id: Any) -> Channel:
    return fetch(db, Channel, channel_id, "channel")


def find_channel(db: Session, name: str) -> Channel | None:
    return db.scalar(select(Channel).where(Channel.name == name))


def _channel_values(db: Session, data: dict, current: Channel | None) -> dict[str, Any]:
    name = require_name(data)
    clash = find_channel(db, name)
    if clash is not None and clash is not current:
        raise ConfigConflict(f"a channel named {name!r} exists already (id {clash.id})")
    return {"name": name, "description": optional_text(data, "description", "") or ""}


def create_channel(db: Session, actor: Actor, data: Any) -> Channel:
    data = only_fields(data, CHANNEL_FIELDS, "channel")
    channel = Channel(**_channel_values(db, data, None))
    db.add(channel)
    db.flush()
    audit(db, actor, "create", f"channel {channel.name}", data)
    db.commit()
    return channel


def update_channel(db: Session, actor: Actor, channel_id: Any, data: Any) -> Channel:
    channel = get_channel(db, channel_id)
    data = only_fields(data, CHANNEL_FIELDS, "channel")
    current = {"name": channel.name, "description": channel.description}
    old_name = channel.name
    for key, value in _channel_values(db, merged(current, data), channel).items():
        setattr(channel, key, value)
    audit(db, actor, "update", f"channel {old_name}", data)
    db.commit()
    return channel


def delete_channel(db: Session, actor: Actor, channel_id: Any) -> None:
    channel = get_channel(db, channel_id)
    audit(db, actor, "delete", f"channel {channel.name}", {"pipelines": [p.name for p in channel.pipelines]})
    db.delete(channel)
    db.commit()

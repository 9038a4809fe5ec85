"""What the API returns (and the pages show) for each stored object. Passwords never leave: a source says
``password_set`` instead."""

from __future__ import annotations

from typing import Any

from otter_manager.store import AuditLog, Channel, DataMedia, DataSource, Pair, Pipeline, User


def source_view(source: DataSource) -> dict[str, Any]:
    return {
        "id": source.id,
        "name": source.name,
        "type": source.type,
        "host": source.host,
        "port": source.port,
        "user": source.user,
        "password_set": bool(source.password),
        "password_env": source.password_env,
        "encoding": source.encoding,
        "options": source.options or {},
    }


def media_view(media: DataMedia) -> dict[str, Any]:
    return {
        "id": media.id,
        "source_id": media.source_id,
        "source": media.source.name,
        "schema": media.schema_name,
        "name": media.name,
        "full_name": media.full_name,
    }


def channel_view(channel: Channel) -> dict[str, Any]:
    return {
        "id": channel.id,
        "name": channel.name,
        "description": channel.description,
        "pipeline_ids": [p.id for p in channel.pipelines],
        "two_way": len(channel.pipelines) == 2,
    }


def pipeline_view(pipeline: Pipeline) -> dict[str, Any]:
    return {
        "id": pipeline.id,
        "channel_id": pipeline.channel_id,
        "channel": pipeline.channel.name,
        "name": pipeline.name,
        "source_id": pipeline.source_id,
        "source": pipeline.source.name,
        "target_id": pipeline.target_id,
        "target": pipeline.target.name,
        "start": pipeline.start,
        "parameters": pipeline.parameters or {},
        "selector": pipeline.selector,
        "loader": pipeline.loader,
        "pipe": pipeline.pipe,
        "arbitrator": pipeline.arbitrator,
        "exclude": pipeline.exclude or [],
        "home": pipeline.home,
        "snapshot": pipeline.snapshot,
        "pair_ids": [p.id for p in pipeline.pairs],
    }


def pair_view(pair: Pair) -> dict[str, Any]:
    return {
        "id": pair.id,
        "pipeline_id": pair.pipeline_id,
        "source_media_id": pair.source_media_id,
        "source": pair.source_media.full_name,
        "target_media_id": pair.target_media_id,
        "target": pair.target_media.full_name,
        "target_source": pair.target_media.source.name,
        "columns": pair.columns,
        "column_mode": pair.column_mode,
        "column_groups": pair.column_groups or [],
        "push_weight": pair.push_weight,
        "processors": pair.processors or [],
        "processor_options": pair.processor_options or {},
        "filter": pair.filter,
        "file_resolver": pair.file_resolver,
        "conflict": pair.conflict,
    }


def user_view(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "role": user.role,
        "created_at": user.created_at.isoformat() + "Z",
    }


def audit_view(entry: AuditLog) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": entry.at.isoformat() + "Z",
        "username": entry.username,
        "action": entry.action,
        "object": entry.object,
        "detail": entry.detail,
    }

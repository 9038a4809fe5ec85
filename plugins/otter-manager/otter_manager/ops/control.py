"""The operations the API and the pages share: start, pause and stop a channel, reset a pipeline's position,
read status and history. Errors come out as the app's ObjectNotFound (404), ConfigConflict (409) and
ValidationProblem (422)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from otter_core.spi import OtterError
from otter_manager.errors import ConfigConflict
from otter_manager.ops.errors import ChannelConflict, UnknownChannel
from otter_manager.ops.positions import InvalidReset, requested_position
from otter_manager.security import Actor, ValidationProblem, audit
from otter_manager.services.common import fetch
from otter_manager.store import Channel, Pipeline
from otter_manager.store.monitoring import PipelineSample

HISTORY_LIMIT = 5000


@contextmanager
def _runtime_errors(what: str) -> Iterator[None]:
    """Runtime refusals as HTTP-shaped errors: a wrong state is 409, an unknown channel 404."""
    try:
        yield
    except ChannelConflict as exc:
        raise ConfigConflict(str(exc)) from None
    except UnknownChannel as exc:
        raise ConfigConflict(f"{what}: {exc}") from None


def channel_yaml(db: Session, channel: Channel) -> str:
    """The YAML the channel's process runs: the store's config of that channel, passwords included."""
    from otter_manager.services.yaml_io import export_yaml

    return export_yaml(db, channel.name, include_passwords=True)


def start_channel(db: Session, runtime: Any, actor: Actor, channel_id: Any) -> dict[str, Any]:
    channel = fetch(db, Channel, channel_id, "channel")
    yaml_text = channel_yaml(db, channel)
    with _runtime_errors(f"cannot start channel {channel.name!r}"):
        status = runtime.start(channel.name, yaml_text)
    audit(db, actor, "start", f"channel {channel.name}")
    return status


def pause_channel(db: Session, runtime: Any, actor: Actor, channel_id: Any) -> dict[str, Any]:
    channel = fetch(db, Channel, channel_id, "channel")
    with _runtime_errors(f"cannot pause channel {channel.name!r}"):
        status = runtime.pause(channel.name)
    audit(db, actor, "pause", f"channel {channel.name}")
    return status


def stop_channel(db: Session, runtime: Any, actor: Actor, channel_id: Any) -> dict[str, Any]:
    channel = fetch(db, Channel, channel_id, "channel")
    with _runtime_errors(f"cannot stop channel {channel.name!r}"):
        status = runtime.stop(channel.name)
    audit(db, actor, "stop", f"channel {channel.name}")
    return status


def reset_pipeline(
    db: Session, runtime: Any, actor: Actor, pipeline_id: Any, body: dict[str, Any]
) -> dict[str, Any]:
    """Set where the pipeline resumes: ``{file, pos}``, ``{gtid}`` or ``{time}``; the channel must be stopped."""
    pipeline = fetch(db, Pipeline, pipeline_id, "pipeline")
    channel = pipeline.channel.name
    status = _status_or_none(runtime, channel)
    if status is not None and status["state"] in ("RUNNING", "PAUSED"):
        raise ConfigConflict(
            f"channel {channel!r} is {status['state']}: stop it before resetting the position "
            f"of pipeline {pipeline.name!r}"
        )
    try:
        source = _source_of(db, pipeline) if body.get("time") not in (None, "") else None
        position = requested_position(body, source)
    except InvalidReset as exc:
        raise ValidationProblem(exc.field, exc.detail) from None
    except OtterError as exc:  # the source could not be read to map the time
        raise ConfigConflict(
            f"cannot map the time to a position of pipeline {pipeline.name!r}: {exc}"
        ) from None
    with _runtime_errors(f"cannot reset pipeline {pipeline.name!r}"):
        runtime.reset_position(channel, pipeline.name, position)
    audit(
        db,
        actor,
        "reset",
        f"pipeline {channel}/{pipeline.name}",
        {"request": body, "position": position.to_dict()},
    )
    return {
        "channel": channel,
        "pipeline": pipeline.name,
        "position": position.to_dict(),
        "text": str(position),
    }


def _source_of(db: Session, pipeline: Pipeline):
    """The engine's DataMediaSource of the pipeline's source (password included), to read its binlog."""
    from otter_manager.services.yaml_io import to_otter_config

    config = to_otter_config(db, pipeline.channel.name)
    model = next(p for c in config.channels for p in c.pipelines if p.name == pipeline.name)
    return config.sources[model.source]


def _status_or_none(runtime: Any, channel: str) -> dict[str, Any] | None:
    try:
        return runtime.channel_status(channel)
    except (UnknownChannel, ChannelConflict):
        return None


def status(db: Session, runtime: Any) -> list[dict[str, Any]]:
    """Every configured channel with its id, pipeline ids and what the runtime says (state None: never started)."""
    known = {s["channel"]: s for s in runtime.status()}
    rows = []
    for channel in db.scalars(select(Channel).order_by(Channel.id)).all():
        live = known.get(channel.name, {"state": None, "pipelines": []})
        ids = {p.name: p.id for p in channel.pipelines}
        pipelines = [
            {**row, "pipeline_id": ids.get(row.get("pipeline"))} for row in live.get("pipelines", [])
        ]
        rows.append({**live, "channel": channel.name, "channel_id": channel.id, "pipelines": pipelines})
    return rows


def history(
    db: Session, pipeline_id: Any, since: dt.datetime | None = None, limit: int = HISTORY_LIMIT
) -> list[dict[str, Any]]:
    """The pipeline's samples after ``since`` (UTC), oldest first, at most ``limit`` (the newest ones)."""
    pipeline = fetch(db, Pipeline, pipeline_id, "pipeline")
    query = (
        select(PipelineSample)
        .where(PipelineSample.channel == pipeline.channel.name, PipelineSample.pipeline == pipeline.name)
        .order_by(PipelineSample.at.desc(), PipelineSample.id.desc())
        .limit(limit)
    )
    if since is not None:
        query = query.where(PipelineSample.at > since)
    return [sample_view(s) for s in reversed(db.scalars(query).all())]


def sample_view(sample: PipelineSample) -> dict[str, Any]:
    return {
        "at": sample.at.isoformat() + "Z",
        "state": sample.state,
        "delay_s": sample.delay_s,
        "rows": sample.rows,
        "rows_per_s": sample.rows_per_s,
        "bytes": sample.bytes,
        "bytes_per_s": sample.bytes_per_s,
        "tables": sample.tables,
        "stage_ms": sample.stage_ms,
        "error": sample.error,
        "position": sample.position,
        "position_detail": sample.position_detail,
    }

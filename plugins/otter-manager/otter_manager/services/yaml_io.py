"""Import and export of the pipeline YAML that ``otter-run run`` reads, and the engine's config of a channel.

Export writes stored passwords as ``password_env: OTTER_PASSWORD_<SOURCE>`` (never the password itself)
unless the caller is the runtime (``include_passwords=True``); importing such a file keeps the stored
password. Import is all or nothing: sources are matched by name (created or updated), channels by name
(created, or replaced with the file's pipelines and pairs); anything else in the store is left alone.
"""

from __future__ import annotations

from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from otter_core.spi import ConfigError, OtterConfig, load_config_text
from otter_core.yaml_lines import load_yaml
from otter_manager.errors import ConfigConflict, ObjectNotFound
from otter_manager.security import Actor, ValidationProblem, audit
from otter_manager.services import pipeline_service, source_service
from otter_manager.services.channel_service import find_channel, list_channels
from otter_manager.services.yaml_shapes import (
    check_channel,
    check_document,
    document,
    masked_env_name,
    sources_of,
)
from otter_manager.store import Channel, DataSource, Pair, Pipeline


def _incomplete(channel: Channel) -> str | None:
    if not channel.pipelines:
        return f"channel {channel.name!r} has no pipeline yet"
    empty = [p.name for p in channel.pipelines if not p.pairs]
    return f"pipeline(s) {', '.join(empty)} of channel {channel.name!r} have no pairs yet" if empty else None


def export_document(
    db: Session, channel: str | None = None, include_passwords: bool = False
) -> dict[str, Any]:
    """The YAML document as a dict: one channel (by name) with its sources, or every complete channel with
    every source. ConfigConflict when the named channel is not complete or there is nothing to export."""
    if channel is not None:
        found = find_channel(db, channel)
        if found is None:
            raise ObjectNotFound("channel", repr(channel))
        problem = _incomplete(found)
        if problem:
            raise ConfigConflict(f"cannot export: {problem}")
        doc = document([found], sources_of([found]), include_passwords)
    else:
        complete = [c for c in list_channels(db) if _incomplete(c) is None]
        doc = document(complete, source_service.list_sources(db), include_passwords)
    if not doc["sources"]:
        raise ConfigConflict("nothing to export: the store has no source yet")
    check_document(doc)
    return doc


def export_yaml(db: Session, channel: str | None = None, include_passwords: bool = False) -> str:
    """The pipeline YAML of the store (see :func:`export_document`); incomplete channels are listed in a
    comment at the top when every channel is exported."""
    doc = export_document(db, channel, include_passwords)
    text = yaml.safe_dump(doc, sort_keys=False, default_flow_style=False, allow_unicode=True, width=120)
    if channel is None:
        skipped = [p for p in (_incomplete(c) for c in list_channels(db)) if p]
        text = "".join(f"# not exported: {p}\n" for p in skipped) + text
    return text


def to_otter_config(db: Session, channel: str) -> OtterConfig:
    """The engine's config of one channel, passwords included (``password_env`` read from this process's
    environment): what the runtime runs."""
    return load_config_text(export_yaml(db, channel, include_passwords=True), f"channel {channel}")


class _Importer:
    """Applies one parsed YAML document to the store in the caller's transaction."""

    def __init__(self, db: Session, root: dict) -> None:
        self.db = db
        self.root = root

    def at(self, path: str, node: Any, problem: ValidationProblem) -> ValidationProblem:
        line = getattr(node, "lines", {}).get(problem.field.split(".")[0], getattr(node, "line", 0))
        where = f"line {line}: " if line else ""
        return ValidationProblem(f"{path}.{problem.field}", f"{where}{problem.message}")

    def source(self, name: str, spec: dict) -> DataSource:
        existing = self.db.scalar(select(DataSource).where(DataSource.name == name))
        data = {
            "name": name,
            **{k: spec[k] for k in source_service.SOURCE_FIELDS if k in spec and k != "name"},
        }
        if data.get("password_env") == masked_env_name(name) and existing is not None and existing.password:
            data.pop("password_env")  # an export of ours: the stored password stays
        elif "password_env" in data:
            data["password"] = ""
        else:
            data["password_env"] = None
            data.setdefault("password", "")
        try:
            values = source_service._source_values(self.db, data, existing)
        except ValidationProblem as problem:
            raise self.at(f"sources.{name}", spec, problem) from None
        if existing is None:
            existing = DataSource(**{"password": "", **values})
            self.db.add(existing)
        else:
            for key, value in values.items():
                setattr(existing, key, value)
        self.db.flush()
        return existing

    def channel(self, spec: dict, path: str, sources: dict[str, DataSource]) -> Channel:
        channel = find_channel(self.db, spec["name"])
        if channel is None:
            channel = Channel(name=spec["name"], description="")
            self.db.add(channel)
        else:
            for pipeline in list(channel.pipelines):
                self.db.delete(pipeline)
        self.db.flush()
        self.db.expire(channel)
        for j, pipe_spec in enumerate(spec["pipelines"]):
            self.pipeline(channel, pipe_spec, f"{path}.pipelines[{j}]", sources)
        self.db.refresh(channel)
        return channel

    def pipeline(self, channel: Channel, spec: dict, path: str, sources: dict[str, DataSource]) -> None:
        data = {k: spec[k] for k in pipeline_service.PIPELINE_FIELDS if k in spec}
        data.update(
            channel_id=channel.id, source_id=sources[spec["source"]].id, target_id=sources[spec["target"]].id
        )
        try:
            pipeline = Pipeline(**pipeline_service._pipeline_values(self.db, data, None))
        except ValidationProblem as problem:
            raise self.at(path, spec, problem) from None
        self.db.add(pipeline)
        self.db.flush()
        self.db.refresh(channel)
        for k, pair_spec in enumerate(spec["pairs"]):
            self.pair(pipeline, pair_spec, f"{path}.pairs[{k}]", sources)

    def pair(self, pipeline: Pipeline, spec: Any, path: str, sources: dict[str, DataSource]) -> None:
        if isinstance(spec, str):
            spec = {"source": spec, "target": spec}
        data = {k: v for k, v in spec.items() if k in pipeline_service.PAIR_VALUES}
        for side in ("source", "target"):
            value = spec.get(side, spec.get("source"))
            data[side] = (
                f"{value.get('schema', '*')}.{value.get('name', '*')}" if isinstance(value, dict) else value
            )
        data["pipeline_id"] = pipeline.id
        if spec.get("target_source") is not None:
            data["target_source_id"] = sources[spec["target_source"]].id
        try:
            pair = Pair(**pipeline_service._pair_values(self.db, data))
        except ValidationProblem as problem:
            raise self.at(path, spec, problem) from None
        self.db.add(pair)
        self.db.flush()


def import_yaml(db: Session, actor: Actor, text: str, filename: str = "import.yaml") -> dict[str, list[str]]:
    """Apply a pipeline YAML to the store (all or nothing); returns the names of the sources and channels
    written. A file ``otter-run run`` would refuse raises ValidationProblem on ``yaml`` with its line."""
    try:
        root = load_yaml(text, filename)
        if root is None:
            raise ConfigError(f"{filename}: the file is empty")
        if not isinstance(root, dict):
            raise ConfigError(
                f"{filename}: the top level must be a mapping with 'sources:' and 'channels:', "
                f"got a {type(root).__name__}"
            )
        check_document(root, filename)
    except ConfigError as exc:
        raise ValidationProblem("yaml", str(exc)) from None
    importer = _Importer(db, root)
    sources = {name: importer.source(name, spec) for name, spec in root["sources"].items()}
    channels = []
    for i, spec in enumerate(root["channels"]):
        channel = importer.channel(spec, f"channels[{i}]", sources)
        check_channel(channel)
        channels.append(channel.name)
    audit(db, actor, "import", filename, {"sources": sorted(sources), "channels": channels})
    db.commit()
    return {"sources": sorted(sources), "channels": channels}

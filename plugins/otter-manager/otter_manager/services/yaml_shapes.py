"""Stored objects as the pipeline YAML's mappings (what ``otter-run run`` reads), and checks that run them
through ``otter_core.config``'s reader, so the store never holds what the engine would refuse.

Keys at their YAML default are left out, so an export reads like a hand-written file."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from otter_core.config import _Reader
from otter_core.spi import ConfigError
from otter_manager.security import ValidationProblem
from otter_manager.store import Channel, DataSource, Pair, Pipeline

MASKED_ENV_PREFIX = "OTTER_PASSWORD_"


def masked_env_name(source_name: str) -> str:
    """The environment variable an export names instead of a stored password (``OTTER_PASSWORD_SRC``)."""
    return MASKED_ENV_PREFIX + "".join(c if c.isalnum() else "_" for c in source_name).upper()


def source_shape(source: DataSource, include_password: bool) -> dict[str, Any]:
    """``sources.<name>``. Without ``include_password`` a stored password becomes ``password_env`` naming
    :func:`masked_env_name` (set that variable to run the file); importing it back keeps the password."""
    shape: dict[str, Any] = {"type": source.type}
    for key, default in (("host", "127.0.0.1"), ("port", 3306), ("user", "root")):
        if getattr(source, key) != default:
            shape[key] = getattr(source, key)
    if source.password_env:
        shape["password_env"] = source.password_env
    elif source.password:
        if include_password:
            shape["password"] = source.password
        else:
            shape["password_env"] = masked_env_name(source.name)
    if source.encoding != "utf8mb4":
        shape["encoding"] = source.encoding
    if source.options:
        shape["options"] = dict(source.options)
    return shape


def pair_shape(pair: Pair, pipeline_target: str) -> dict[str, Any]:
    shape: dict[str, Any] = {"source": pair.source_media.full_name, "target": pair.target_media.full_name}
    if pair.target_media.source.name != pipeline_target:
        shape["target_source"] = pair.target_media.source.name
    optional: tuple[tuple[str, Any, Any], ...] = (
        ("columns", pair.columns, None),
        ("column_mode", pair.column_mode, "include"),
        ("column_groups", pair.column_groups, []),
        ("push_weight", pair.push_weight, 5),
        ("processors", pair.processors, []),
        ("processor_options", pair.processor_options, {}),
        ("filter", pair.filter, None),
        ("file_resolver", pair.file_resolver, None),
        ("conflict", pair.conflict, None),
    )
    for key, value, default in optional:
        if value != default and value is not None:
            shape[key] = copy.deepcopy(value)
    return shape


def pipeline_shape(pipeline: Pipeline) -> dict[str, Any]:
    shape: dict[str, Any] = {
        "name": pipeline.name,
        "source": pipeline.source.name,
        "target": pipeline.target.name,
    }
    optional: tuple[tuple[str, Any, Any], ...] = (
        ("start", pipeline.start, "current"),
        ("snapshot", pipeline.snapshot, None),
        ("home", pipeline.home, False),
        ("selector", pipeline.selector, None),
        ("loader", pipeline.loader, None),
        ("pipe", pipeline.pipe, "memory"),
        ("arbitrator", pipeline.arbitrator, "memory"),
        ("exclude", pipeline.exclude, []),
        ("parameters", pipeline.parameters, {}),
    )
    for key, value, default in optional:
        if value != default and value is not None:
            shape[key] = copy.deepcopy(value)
    shape["pairs"] = [pair_shape(p, pipeline.target.name) for p in pipeline.pairs]
    return shape


def channel_shape(channel: Channel) -> dict[str, Any]:
    return {"name": channel.name, "pipelines": [pipeline_shape(p) for p in channel.pipelines]}


def sources_of(channels: Iterable[Channel]) -> list[DataSource]:
    """The sources the channels' pipelines and pairs use, in name order."""
    found: dict[str, DataSource] = {}
    for channel in channels:
        for pipeline in channel.pipelines:
            for source in (
                pipeline.source,
                pipeline.target,
                *(p.target_media.source for p in pipeline.pairs),
            ):
                found[source.name] = source
    return [found[name] for name in sorted(found)]


def document(channels: list[Channel], sources: list[DataSource], include_passwords: bool) -> dict[str, Any]:
    return {
        "sources": {s.name: source_shape(s, include_passwords) for s in sources},
        "channels": [channel_shape(c) for c in channels],
    }


def check_document(doc: dict[str, Any], filename: str = "export") -> None:
    """Run ``doc`` through the YAML reader; ConfigError as it would be raised for the file. Sources read
    from environment variables get a stand-in password (the manager need not have them set)."""
    doc = copy.deepcopy(doc)
    for spec in (doc.get("sources") or {}).values():
        if isinstance(spec, dict) and "password_env" in spec:
            spec.pop("password_env")
            spec["password"] = "stand-in"
    _Reader(filename).document(doc)


def check_channel(channel: Channel) -> None:
    """ValidationProblem on ``channel`` when the complete channel (every pipeline has pairs) would be
    refused by ``otter-run run``; a channel still being put together is not checked."""
    if not channel.pipelines or any(not p.pairs for p in channel.pipelines):
        return
    try:
        check_document(
            document([channel], sources_of([channel]), include_passwords=False),
            filename=f"channel {channel.name}",
        )
    except ConfigError as exc:
        raise ValidationProblem("channel", str(exc)) from None

"""The conflict log as an API: list, show and resolve the conflicts pipelines detected (manager, CLI).

Conflicts live on each pipeline's target, in the store its loader plugin opens through the
``otter_conflict_store`` hook (MySQL/MariaDB: ``retl.retl_conflict``, plugin otter-mysql); an id is
``TARGET:N``: the name of the target in the YAML's ``sources`` and the store's number there.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import attrs
from attrs import frozen

from otter_core.contracts import ConflictStore
from otter_core.errors import ConfigError
from otter_core.model import DataMediaSource, OtterConfig


@frozen
class ConflictRecord:
    """One detected conflict (see docs/configuration.md "Conflicts" for kinds and outcomes)."""

    id: str
    channel: str
    pipeline: str
    schema: str
    table: str
    key: dict
    kind: str
    event_type: str
    policy: str
    outcome: str
    status: str
    source_image: dict | None
    source_before: dict | None
    target_image: dict | None
    position: str
    detected_at: datetime.datetime | None
    resolved_at: datetime.datetime | None = None
    resolved_by: str | None = None
    resolution: Any = None
    parent_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = attrs.asdict(self)
        for name in ("detected_at", "resolved_at"):
            out[name] = out[name].isoformat(" ") if out[name] else None
        return out


def _targets(
    config: OtterConfig, channel: str | None = None, pipeline: str | None = None
) -> dict[str, DataMediaSource]:
    """The target sources of the pipelines that detect conflicts (optionally of one channel/pipeline)."""
    found: dict[str, DataMediaSource] = {}
    for ch in config.channels:
        if channel is not None and ch.name != channel:
            continue
        for pipe in ch.pipelines:
            if pipeline is not None and pipe.name != pipeline:
                continue
            if pipe.detects_conflicts:
                found[pipe.target] = config.sources[pipe.target]
    return found


@contextmanager
def _store(source: DataMediaSource) -> Iterator[ConflictStore]:
    """The conflict log of target ``source``, closed afterwards."""
    from otter_core.plugins import AdminPlugins

    store = AdminPlugins().conflict_store(source)
    if store is None:
        raise ConfigError(
            f"source {source.name}: its {source.type} plugin keeps no conflict log "
            f"(the conflict log is kept on mysql/mariadb targets)"
        )
    try:
        yield store
    finally:
        store.close()


def _record(target: str, row: Mapping[str, Any]) -> ConflictRecord:
    fields = dict(row)
    fields["id"] = f"{target}:{row['id']}"
    fields["parent_id"] = f"{target}:{row['parent_id']}" if row.get("parent_id") else None
    return ConflictRecord(**fields)


def _split_id(config: OtterConfig, conflict_id: str) -> tuple[str, int]:
    target, _, number = str(conflict_id).rpartition(":")
    if not target or not number.isdigit():
        raise ConfigError(
            f"conflict id {conflict_id!r}: expected TARGET:N, e.g. b:17 (see `otter-run conflicts list`)"
        )
    if target not in config.sources:
        raise ConfigError(
            f"conflict id {conflict_id!r}: no source named {target!r} (known: {', '.join(config.sources)})"
        )
    return target, int(number)


def list_conflicts(
    config: OtterConfig,
    *,
    channel: str | None = None,
    pipeline: str | None = None,
    status: str | None = None,
    limit: int = 100,
) -> list[ConflictRecord]:
    """Conflicts of the file's pipelines (newest first), optionally of one channel/pipeline/status."""
    out: list[ConflictRecord] = []
    for name, source in _targets(config, channel, pipeline).items():
        with _store(source) as store:
            out.extend(_record(name, row) for row in store.list(channel, pipeline, status, limit))
    out.sort(key=lambda r: r.detected_at or datetime.datetime.min, reverse=True)
    return out[:limit]


def show_conflict(config: OtterConfig, conflict_id: str) -> ConflictRecord:
    """One conflict by id (``TARGET:N``)."""
    target, number = _split_id(config, conflict_id)
    with _store(config.sources[target]) as store:
        row = store.get(number)
    if row is None:
        raise ConfigError(f"no conflict {conflict_id} (see `otter-run conflicts list`)")
    return _record(target, row)


def resolve_conflict(
    config: OtterConfig, conflict_id: str, action: str, image: dict | None = None, by: str = "operator"
) -> ConflictRecord:
    """Settle a parked conflict: ``source`` applies the parked changes of its key in order, ``target``
    keeps the target's row, ``image`` writes ``image`` (None deletes the row). Written on the target in one
    transaction with the conflict rows; a two-way channel's reverse pipeline carries it to the other side."""
    target, number = _split_id(config, conflict_id)
    with _store(config.sources[target]) as store:
        return _record(target, store.resolve(number, action, image, by))

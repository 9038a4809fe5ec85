"""What the PostgreSQL loader knows of a target table, and one statement group of a batch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from attrs import define, field

from otter_core.spi import EventData


@define
class TargetTable:
    exists: bool
    adapters: dict[str, Callable[[Any], Any] | None] = field(factory=dict)
    generated: frozenset[str] = frozenset()
    unique: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (index name, columns) of every plain UNIQUE index


@define
class Group:
    kind: str  # "DELETE" or "UPSERT"
    schema: str
    table: str
    keys: tuple[str, ...]
    columns: tuple[str, ...]
    update: tuple[str, ...] | None
    picks: tuple[int, ...] | None
    adapters: tuple[Callable[[Any], Any] | None, ...] | None
    rows: list[tuple] = field(factory=list)
    first: EventData | None = None

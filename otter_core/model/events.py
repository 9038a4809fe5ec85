"""Events and batches: what flows from Select to Load.

Row values are kept in plain dicts (column name -> Python value) rather than one object per column:
a batch holds hundreds of thousands of values and a dict lookup is what every stage needs. The
``updated`` set says which non-key columns changed (field mode); ``column_view`` gives the
per-column picture when a reader wants it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

from attrs import field, frozen


class EventType(str, enum.Enum):
    INSERT = "I"
    UPDATE = "U"
    DELETE = "D"
    DDL = "DDL"


@frozen
class Position:
    """A point in a source's change log. ``file``/``pos`` is the next event to read after a whole
    transaction; ``gtid`` the last committed transaction's GTID (MariaDB ``domain-server-seq``),
    ``timestamp`` its commit time in seconds."""

    file: str | None = None
    pos: int | None = None
    gtid: str | None = None
    timestamp: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "pos": self.pos, "gtid": self.gtid, "timestamp": self.timestamp}

    def __reduce__(self) -> tuple:
        return (Position, (self.file, self.pos, self.gtid, self.timestamp))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Position:
        return cls(data.get("file"), data.get("pos"), data.get("gtid"), int(data.get("timestamp") or 0))

    def __str__(self) -> str:
        parts = []
        if self.file:
            parts.append(f"{self.file}:{self.pos}")
        if self.gtid:
            parts.append(f"gtid {self.gtid}")
        return " ".join(parts) or "(start)"


@frozen
class Column:
    """One column of an event, as a reader sees it (built on demand by ``EventData.column_view``)."""

    name: str
    value: Any
    is_key: bool
    updated: bool


@frozen
class EventData:
    """One row change (or one DDL statement).

    ``keys`` holds the primary-key values after the change (before it, for DELETE); ``old_keys`` is set
    only when an UPDATE changed the primary key. ``columns`` holds the other columns: new values for
    INSERT/UPDATE, old values for DELETE. ``updated`` names the non-key columns an UPDATE changed.
    """

    schema: str
    table: str
    event_type: EventType
    keys: Mapping[str, Any] = field(factory=dict)
    columns: Mapping[str, Any] = field(factory=dict)
    old_keys: Mapping[str, Any] | None = None
    updated: frozenset[str] = frozenset()
    execute_time: float = 0.0
    position: Position = Position()
    size: int = 0
    ddl_sql: str | None = None
    hints: frozenset[str] = frozenset()
    files: tuple[Any, ...] = ()  # file references a FileResolver found for this row (Extract)
    # before image of the non-key columns, kept only when the pipeline detects conflicts (UPDATE: the
    # logged before image; DELETE: ``columns``; INSERT: set only by a merged delete+insert)
    old_columns: Mapping[str, Any] | None = None

    @property
    def full_name(self) -> str:
        return f"{self.schema}.{self.table}"

    @property
    def key_tuple(self) -> tuple:
        return tuple(self.keys.values())

    @property
    def pk_changed(self) -> bool:
        return self.old_keys is not None and dict(self.old_keys) != dict(self.keys)

    def column_view(self) -> list[Column]:
        cols = [Column(n, v, True, bool(self.old_keys)) for n, v in self.keys.items()]
        cols += [Column(n, v, False, n in self.updated) for n, v in self.columns.items()]
        return cols

    def __reduce__(self) -> tuple:
        # pickled as constructor arguments: several times faster to load than attrs' slot-by-slot
        # __setstate__, and events cross a process boundary (select_process) by the hundred thousand
        return (
            EventData,
            (
                self.schema,
                self.table,
                self.event_type,
                self.keys,
                self.columns,
                self.old_keys,
                self.updated,
                self.execute_time,
                self.position,
                self.size,
                self.ddl_sql,
                self.hints,
                self.files,
                self.old_columns,
            ),
        )

    def describe(self) -> str:
        """Short text for error messages: table, kind, key and position."""
        if self.event_type is EventType.DDL:
            return f"DDL on {self.full_name} at {self.position}: {self.ddl_sql!r}"
        keys = ", ".join(f"{k}={v!r}" for k, v in self.keys.items())
        return f"{self.event_type.name} {self.full_name} ({keys}) at {self.position}"


@frozen
class Transaction:
    """A source transaction, kept whole: Select never splits one across batches."""

    events: tuple[EventData, ...]
    position: Position
    size: int = 0
    # a selector that defers decoding to the consuming process (select_process) puts its own payload
    # here and leaves ``events`` empty; its ``expand`` turns the transaction into events there
    raw: Any = None

    def __reduce__(self) -> tuple:
        return (Transaction, (self.events, self.position, self.size, self.raw))


@frozen
class RowBatch:
    """A batch of whole transactions with its processId and the position to ack after loading it."""

    process_id: int
    events: tuple[EventData, ...]
    position: Position
    first_position: Position | None = None
    size: int = 0

    def __len__(self) -> int:
        return len(self.events)

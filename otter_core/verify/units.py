"""What ``otter-run verify`` compares: one *unit* per target table, fed by one or more source tables.

A unit is built from the pipeline's own pairs, so renamed tables and columns, excluded columns, n:1
shards (``offer[1-32] -> offer``) and 1:n copies compare the way the pipeline loads them. Rows are turned
into target rows by the engine's own Extract (row filter, EventProcessors) and Transform (mapping, type
conversion) — verify never re-implements the mapping.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from attrs import define, field

from otter_core.contracts import TableReader
from otter_core.engine.convert import _to_text
from otter_core.engine.extract import Extractor
from otter_core.engine.snapshot_plan import SIGNAL_SCHEMA
from otter_core.engine.transform import map_columns, transform_event
from otter_core.errors import ConfigError
from otter_core.model import DataMedia, DataMediaPair, EventData, EventType, Hint, Pipeline


@define
class Contributor:
    """A source table feeding a unit through ``pair``."""

    pair: DataMediaPair
    schema: str
    table: str
    key: tuple[str, ...]  # source key columns, in the unit's key order
    columns: tuple[str, ...]  # every stored source column (read in full: filters and processors see the row)
    sums: tuple[str, ...]  # source column feeding each of the unit's columns (checksum fast path)

    @property
    def full_name(self) -> str:
        return f"{self.schema}.{self.table}"


@define
class Unit:
    """One target table and the source tables that feed it."""

    target_source: str
    schema: str
    table: str
    key: tuple[str, ...]  # target key columns (the mapped source key)
    columns: tuple[str, ...]  # target columns compared
    contributors: list[Contributor] = field(factory=list)

    @property
    def full_name(self) -> str:
        return f"{self.schema}.{self.table}"

    @property
    def exact(self) -> bool:
        """True when server-side checksums of both sides can agree (no filter, no processor)."""
        return all(not c.pair.filter and not c.pair.processors for c in self.contributors)

    def describe(self) -> str:
        sources = ", ".join(c.full_name for c in self.contributors)
        return f"{sources} -> {self.full_name}"


def canonical(values: Sequence[Any]) -> tuple:
    """A key or row in a form that compares equal when the database would call the values equal."""
    return tuple(None if v is None else _to_text(v) for v in values)


def build_units(
    pipeline: Pipeline, source_reader: TableReader, target_reader_of, tables: Sequence[str] = ()
) -> list[Unit]:
    """The units of ``pipeline``, limited to source tables matching ``tables`` (names or patterns).

    ``target_reader_of(name)`` returns the TableReader of the target source called ``name``."""
    wanted = [DataMedia(*t.split(".", 1)) for t in tables]
    units: dict[tuple[str, str, str], Unit] = {}
    for schema, table in source_reader.tables():
        if schema == SIGNAL_SCHEMA or (wanted and not any(w.matches(schema, table) for w in wanted)):
            continue
        for pair in pipeline.pair_for(schema, table):
            target_source = pair.target_source or pipeline.target
            t_schema, t_table = pair.target_name(schema, table)
            contributor, key, columns = _contributor(pair, schema, table, source_reader)
            unit = units.get((target_source, t_schema, t_table))
            if unit is None:
                target = target_reader_of(target_source)
                stored = set(target.columns(t_schema, t_table))
                lacking = [c for c in columns if c not in stored]
                if lacking:
                    raise ConfigError(
                        f"target table {t_schema}.{t_table} on {target_source} lacks column(s) "
                        f"{', '.join(lacking)} that pair {pair.source} -> {pair.target} writes"
                    )
                unit = units[(target_source, t_schema, t_table)] = Unit(
                    target_source, t_schema, t_table, key, columns
                )
            elif (key, columns) != (unit.key, unit.columns):
                raise ConfigError(
                    f"{schema}.{table} and {unit.contributors[0].full_name} both load "
                    f"{t_schema}.{t_table} but map to different columns; verify cannot compare them"
                )
            unit.contributors.append(contributor)
    if wanted and not units:
        raise ConfigError(f"no table of pipeline {pipeline.name} matches {', '.join(tables)}")
    return sorted(units.values(), key=lambda u: (u.target_source, u.full_name))


def _contributor(
    pair: DataMediaPair, schema: str, table: str, reader: TableReader
) -> tuple[Contributor, tuple[str, ...], tuple[str, ...]]:
    key = reader.key_columns(schema, table)
    columns = reader.columns(schema, table)
    mapped = map_columns(pair, {c: c for c in columns})  # target column -> source column
    mapped_key = map_columns(pair, {k: k for k in key})  # target key column -> source key column
    if len(mapped_key) != len(key):
        raise ConfigError(
            f"the columns of pair {pair.source} -> {pair.target} leave out key column(s) of "
            f"{schema}.{table}; verify (and the pipeline) need every key column"
        )
    target_columns = tuple(sorted(mapped))
    target_key = tuple(sorted(mapped_key, key=lambda t: key.index(mapped_key[t])))  # the source key's order
    contributor = Contributor(
        pair,
        schema,
        table,
        tuple(mapped_key[k] for k in target_key),
        columns,
        tuple(mapped[c] for c in target_columns),
    )
    return contributor, target_key, target_columns


class RowMapper:
    """Source rows -> expected target rows, through the engine's Extract and Transform."""

    def __init__(self, pipeline: Pipeline, extractor: Extractor, unit: Unit) -> None:
        self.pipeline = pipeline
        self.extractor = extractor
        self.unit = unit

    def expected(
        self, contributor: Contributor, rows: Sequence[tuple]
    ) -> dict[tuple, tuple[tuple, EventData]]:
        """canonical target key -> (source key, the target event the pipeline would load) per source row."""
        key_set = set(contributor.key)
        events = []
        for row in rows:
            values = dict(zip(contributor.columns, row))
            events.append(
                EventData(
                    contributor.schema,
                    contributor.table,
                    EventType.INSERT,
                    {k: values[k] for k in contributor.key},
                    {c: v for c, v in values.items() if c not in key_set},
                    hints=frozenset({Hint.VERIFY}),
                )
            )
        out: dict[tuple, tuple[tuple, EventData]] = {}
        for pair, event in self.extractor.extract(events):
            if pair == contributor.pair:
                target = transform_event(pair, event)
                source_key = tuple(event.keys[k] for k in contributor.key)
                out[canonical([target.keys[k] for k in self.unit.key])] = (source_key, target)
        return out

    def row_of(self, event: EventData) -> tuple:
        values = {**event.keys, **event.columns}
        return tuple(values.get(c) for c in self.unit.columns)


def same_row(expected: Sequence[Any], actual: Sequence[Any]) -> bool:
    """Equal values, or values the database would store the same (a converted DECIMAL and its text)."""
    for a, b in zip(expected, actual):
        if a == b:
            continue
        if a is None or b is None or _to_text(a) != _to_text(b):
            return False
    return True

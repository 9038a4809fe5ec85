"""The ``route-by-region`` EventProcessor: each row goes to a target table chosen by one of its values.

::

    - source: shop.orders
      target: "shop.*"                 # a wildcard target table: the routed name passes through
      processors: [route-by-region]
      processor_options:
        route-by-region:
          column: region               # default: region
          routes: {eu: orders_eu, us: orders_us}
          default: orders_other        # optional; without it an unroutable row stops the pipeline

Why the wildcard: processors run in Extract, *before* Transform maps the pair's source names to target
names (``pair.target_name(event.schema, event.table)``). The processor therefore renames the *source-side*
table of the event; a ``*`` target table keeps that name, while a fixed target table would overwrite it.
So the processor refuses a pair whose target table is fixed.

Limits: a DELETE is routed by the deleted row's values (the table the row lives in). An UPDATE carries
the new values only, so an UPDATE that changes the routing column writes the row into its new table and
leaves the old copy where it was: keep the routing column immutable (or delete + insert). DDL is not
routed (processors never see DDL): create the routed tables on the target yourself and set ``skip_ddl``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from otter_core.spi import ConfigError, DataError, DataMediaPair, EventData, hookimpl

NAME = "route-by-region"
OPTIONS = {"column", "routes", "default"}


class UnroutableRow(DataError, ValueError):
    """A row's routing value has no route and the processor has no ``default`` table. Retrying cannot
    help (the replayed row is the same), hence ``retryable = False``."""

    retryable = False


class RouteByColumn:
    """Sets ``event.table`` from ``routes[str(value of column)]`` (or ``default``)."""

    def __init__(
        self, routes: Mapping[str, str], column: str = "region", default: str | None = None, where: str = NAME
    ) -> None:
        self.routes = dict(routes)
        self.column = column
        self.default = default
        self.where = where

    def table_for(self, event: EventData) -> str:
        row = {**event.columns, **event.keys}
        if self.column not in row:
            raise UnroutableRow(
                f"{self.where}: {event.full_name} has no column {self.column!r} to route by "
                f"(columns: {', '.join(row)})"
            )
        value = row[self.column]
        if isinstance(value, (bytes, bytearray)):
            value = bytes(value).decode("utf-8", errors="replace")
        table = self.routes.get(str(value)) if value is not None else None
        if table is None:
            table = self.default
        if table is None:
            raise UnroutableRow(
                f"{self.where}: no route for {self.column}={value!r} "
                f"(routes: {', '.join(sorted(self.routes))}) and no 'default' table"
            )
        return table

    def process(self, event: EventData) -> EventData:
        table = self.table_for(event)
        return event if table == event.table else attrs.evolve(event, table=table)


def _wildcard_table(pair: DataMediaPair) -> bool:
    """True when the pair's target keeps the (processed) source table name."""
    probe = "\x00routed"
    return pair.target_name(pair.source.schema, probe)[1] == probe


def processor_from_options(options: Mapping[str, Any], pair: DataMediaPair | None = None) -> RouteByColumn:
    where = f"processor {NAME!r} of pair {pair.source}" if pair is not None else f"processor {NAME!r}"
    unknown = set(options) - OPTIONS
    if unknown:
        raise ConfigError(
            f"{where}: unknown option(s) {', '.join(sorted(unknown))} (allowed: {', '.join(sorted(OPTIONS))})"
        )
    routes = options.get("routes")
    if not isinstance(routes, Mapping) or not routes:
        raise ConfigError(
            f"{where}: 'routes' must map values to table names, e.g. "
            f"{{eu: orders_eu, us: orders_us}}, got {routes!r}"
        )
    default = options.get("default")
    if pair is not None and not _wildcard_table(pair):
        raise ConfigError(
            f"{where}: the pair's target {pair.target} names a fixed table, which would replace the routed "
            f"name (processors run before the target mapping): use a wildcard target table such as "
            f"'{pair.target.schema}.*'"
        )
    return RouteByColumn(
        {str(k): str(v) for k, v in routes.items()},
        column=str(options.get("column", "region")),
        default=None if default is None else str(default),
        where=where,
    )


@hookimpl
def otter_event_processor(name: str, options: Mapping[str, Any], pair: DataMediaPair) -> RouteByColumn | None:
    """The ``route-by-region`` processor for ``pair`` (entry point ``otter.processors: route-by-region``)."""
    if name != NAME:
        return None
    return processor_from_options(options or {}, pair)

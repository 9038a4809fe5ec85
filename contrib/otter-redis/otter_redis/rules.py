"""What a row change does to the cache: the key template, the value encoding and the action per table.

```yaml
sources:
  cache:
    type: redis
    options:
      tables:
        shop.product: {key: "product:{id}", value: json, columns: [id, name, price], ttl_seconds: 3600}
        shop.stock:   {key: "stock:{sku}:{warehouse}", value: hash}
        shop.price:   {key: "price:{id}", value: delete}     # invalidate only: the application refills it
```
``shop.product`` is the pair's *target* name (the pair sends rows to ``cache`` under that name).
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import string
from collections.abc import Mapping
from typing import Any

from attrs import frozen

from otter_core.spi import ConfigError, DataError, EventData

VALUE_KINDS = ("json", "hash", "delete")
RULE_KEYS = {"key", "value", "columns", "ttl_seconds"}


def encode_value(v: Any) -> Any:
    """A row value as JSON/hash data: exact text for decimals and times, base64 for bytes."""
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, decimal.Decimal):
        return str(v)
    if isinstance(v, (dt.datetime, dt.date, dt.time)):
        return v.isoformat()
    if isinstance(v, dt.timedelta):
        sign, v = ("-", -v) if v < dt.timedelta(0) else ("", v)
        hours, rest = divmod(v.total_seconds(), 3600)
        minutes, seconds = divmod(rest, 60)
        return f"{sign}{int(hours):02d}:{int(minutes):02d}:{seconds:09.6f}"
    if isinstance(v, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(v)).decode("ascii")
    if isinstance(v, (set, frozenset)):
        return ",".join(sorted(map(str, v)))
    if isinstance(v, (dict, list)):
        return v
    raise DataError(f"a value of type {type(v).__name__} cannot be written to Redis: {v!r:.80}")


@frozen
class CacheRule:
    """How one target table's rows map to cache keys."""

    table: str
    key: str
    value: str = "json"
    columns: tuple[str, ...] | None = None
    ttl_seconds: int | None = None

    @property
    def key_fields(self) -> tuple[str, ...]:
        return tuple(f for _, f, _, _ in string.Formatter().parse(self.key) if f)

    def key_for(self, event: EventData) -> str:
        row = {**event.keys, **event.columns}
        try:
            return self.key.format_map({f: _key_text(row[f]) for f in self.key_fields})
        except KeyError as exc:
            raise DataError(
                f"cache key template {self.key!r} of {self.table} names column {exc.args[0]!r}, which "
                f"{event.describe()} does not carry: fix options.tables.{self.table}.key",
                retryable=False,
            ) from None

    def document(self, event: EventData) -> dict[str, Any]:
        row = {**event.keys, **event.columns}
        names = self.columns if self.columns is not None else tuple(row)
        missing = [c for c in names if c not in row]
        if missing:
            raise DataError(
                f"options.tables.{self.table}.columns names {', '.join(missing)}, which "
                f"{event.describe()} does not carry: fix the list or the pair's columns",
                retryable=False,
            )
        return {c: encode_value(row[c]) for c in names}

    def json_text(self, event: EventData) -> str:
        return json.dumps(self.document(event), ensure_ascii=False, separators=(",", ":"))

    def hash_fields(self, event: EventData) -> dict[str, Any]:
        """Hash fields: NULL columns are left out (a hash has no null); dicts/lists as JSON text."""
        return {
            c: (
                json.dumps(v, ensure_ascii=False)
                if isinstance(v, (dict, list))
                else ("1" if v is True else "0" if v is False else v)
            )
            for c, v in self.document(event).items()
            if v is not None
        }


def _key_text(v: Any) -> str:
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).hex()
    return str(encode_value(v))


def parse_rules(target: str, tables: Any) -> dict[tuple[str, str], CacheRule]:
    """The ``tables`` option of a Redis target: ConfigError naming the target and key for every mistake."""
    where = f"sources.{target}.options.tables"
    if not isinstance(tables, Mapping) or not tables:
        raise ConfigError(
            f"{where}: expected a mapping of 'schema.table' to {{key: TEMPLATE, value: json|hash|delete}}"
        )
    rules = {}
    for name, spec in tables.items():
        path = f"{where}.{name}"
        if "." not in str(name):
            raise ConfigError(f"{path}: expected 'schema.table' (the pair's target name)")
        if not isinstance(spec, Mapping) or "key" not in spec:
            raise ConfigError(
                f"{path}: expected a mapping with at least `key`, e.g. {{key: 'product:{{id}}'}}"
            )
        unknown = set(spec) - RULE_KEYS
        if unknown:
            raise ConfigError(
                f"{path}: unknown key(s) {', '.join(sorted(unknown))} (known: {', '.join(sorted(RULE_KEYS))})"
            )
        value = str(spec.get("value", "json"))
        if value not in VALUE_KINDS:
            raise ConfigError(f"{path}.value: expected one of {', '.join(VALUE_KINDS)}, got {value!r}")
        ttl = spec.get("ttl_seconds")
        if ttl is not None and (not isinstance(ttl, int) or ttl < 1):
            raise ConfigError(f"{path}.ttl_seconds: expected a positive number of seconds, got {ttl!r}")
        columns = spec.get("columns")
        if columns is not None and not (
            isinstance(columns, list) and all(isinstance(c, str) for c in columns)
        ):
            raise ConfigError(f"{path}.columns: expected a list of column names")
        rule = CacheRule(
            str(name), str(spec["key"]), value, tuple(columns) if columns is not None else None, ttl
        )
        try:
            fields = rule.key_fields
        except ValueError as exc:
            raise ConfigError(f"{path}.key: {spec['key']!r} is not a valid template: {exc}") from None
        if not fields:
            raise ConfigError(f"{path}.key: {spec['key']!r} names no column; write e.g. 'product:{{id}}'")
        schema, table = str(name).split(".", 1)
        rules[(schema, table)] = rule
    return rules

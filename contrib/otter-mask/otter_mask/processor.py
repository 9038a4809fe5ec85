"""The ``mask`` EventProcessor: personal data is masked before it reaches the target.

Name it in a pair and say which columns to mask (``processor_options``)::

    - source: crm.customer
      processors: [mask]
      processor_options:
        mask: {columns: [email, phone]}            # or {columns: {email: email, phone: digits, ssn: hide}}

Methods: ``email`` (``alice@example.com`` -> ``a***@example.com``), ``digits`` (alias ``phone``: every digit
but the last ``keep_last`` becomes ``*``, separators stay: ``138-0013-8000`` -> ``***-****-8000``), ``hide``
(``***``) and ``null`` (NULL). With a list of columns, a column whose name contains ``mail`` is masked as an
email and any other column with ``digits``. Masking is deterministic, so a replayed batch writes the same
values (otter loads at least once).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

from otter_core.spi import ConfigError, DataMediaPair, EventData, hookimpl

NAME = "mask"
DEFAULT_COLUMNS = ("email", "phone")
OPTIONS = {"columns", "keep_last", "mask_char"}
METHODS = ("email", "digits", "phone", "hide", "null")


def mask_email(value: str, mask_char: str = "*") -> str:
    """``alice@example.com`` -> ``a***@example.com``; a value without ``@`` is hidden entirely."""
    local, at, domain = value.rpartition("@")
    if not at:
        return mask_char * 3
    return f"{local[:1]}{mask_char * 3}@{domain}"


def mask_digits(value: str, keep_last: int = 4, mask_char: str = "*") -> str:
    """Every digit but the last ``keep_last`` becomes ``mask_char``; other characters stay. A value with
    no more than ``keep_last`` digits is masked entirely (keeping them all would reveal it)."""
    total = sum(c.isdigit() for c in value)
    keep = keep_last if total > keep_last else 0
    out, seen = [], 0
    for c in value:
        if c.isdigit():
            seen += 1
            out.append(c if seen > total - keep else mask_char)
        else:
            out.append(c)
    return "".join(out)


def _text(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", errors="replace")
    return str(value)


class MaskProcessor:
    """Masks the configured columns of every INSERT/UPDATE/DELETE event of its pair.

    ``columns`` maps a column name (matched case-insensitively, as MariaDB does) to a method name."""

    def __init__(
        self, columns: Mapping[str, str], keep_last: int = 4, mask_char: str = "*", where: str = "mask"
    ) -> None:
        self.where = where
        self.keep_last = keep_last
        self.mask_char = mask_char
        functions: dict[str, Callable[[str], Any]] = {
            "email": lambda v: mask_email(v, mask_char),
            "digits": lambda v: mask_digits(v, keep_last, mask_char),
            "phone": lambda v: mask_digits(v, keep_last, mask_char),
            "hide": lambda v: mask_char * 3,
            "null": lambda v: None,
        }
        self.methods = {name.lower(): method for name, method in columns.items()}
        self._functions = {name.lower(): functions[method] for name, method in columns.items()}

    def process(self, event: EventData) -> EventData:
        for key in event.keys:
            if key.lower() in self._functions:
                raise ValueError(
                    f"{self.where}: column {key!r} is part of the primary key of {event.full_name}; masking it "
                    f"would fold distinct rows into one on the target: remove it from the mask columns"
                )
        changed = None
        for column, value in event.columns.items():
            function = self._functions.get(column.lower())
            if function is None or value is None:
                continue
            if changed is None:
                changed = dict(event.columns)
            changed[column] = function(_text(value))
        return event if changed is None else attrs.evolve(event, columns=changed)


def processor_from_options(options: Mapping[str, Any], pair: DataMediaPair | None = None) -> MaskProcessor:
    """Build a MaskProcessor from the pair's ``processor_options.mask``; bad options are ConfigErrors (the
    pipeline stops and says why instead of retrying)."""
    where = f"processor {NAME!r} of pair {pair.source}" if pair is not None else f"processor {NAME!r}"
    unknown = set(options) - OPTIONS
    if unknown:
        raise ConfigError(
            f"{where}: unknown option(s) {', '.join(sorted(unknown))} (allowed: {', '.join(sorted(OPTIONS))})"
        )
    spec = options.get("columns", list(DEFAULT_COLUMNS))
    if isinstance(spec, str):
        spec = [spec]
    if isinstance(spec, Mapping):
        columns = {str(c): str(m) for c, m in spec.items()}
    elif isinstance(spec, (list, tuple)) and spec:
        columns = {str(c): ("email" if "mail" in str(c).lower() else "digits") for c in spec}
    else:
        raise ConfigError(
            f"{where}: 'columns' must be a non-empty list of column names or a mapping "
            f"column: method, got {spec!r}"
        )
    bad = {c: m for c, m in columns.items() if m not in METHODS}
    if bad:
        raise ConfigError(f"{where}: unknown method(s) {bad} (methods: {', '.join(METHODS)})")
    keep_last = options.get("keep_last", 4)
    if not isinstance(keep_last, int) or isinstance(keep_last, bool) or keep_last < 0:
        raise ConfigError(f"{where}: 'keep_last' must be a whole number >= 0, got {keep_last!r}")
    mask_char = options.get("mask_char", "*")
    if not isinstance(mask_char, str) or len(mask_char) != 1:
        raise ConfigError(f"{where}: 'mask_char' must be one character, got {mask_char!r}")
    return MaskProcessor(columns, keep_last=keep_last, mask_char=mask_char, where=where)


@hookimpl
def otter_event_processor(name: str, options: Mapping[str, Any], pair: DataMediaPair) -> MaskProcessor | None:
    """The ``mask`` processor for ``pair`` (entry point ``otter.processors: mask``)."""
    if name != NAME:
        return None
    return processor_from_options(options or {}, pair)

"""Row-image operations for the compiled decoder (``otter_mysql._rowdecode``).

``value_code`` (values.py) writes Python source per column; ``value_op`` describes the same decoding as
one tuple ``(column, op, size, pad, fn, memo)`` that the C decoder interprets. Both use the same value
functions from ``values`` (DECIMAL, dates and times, SET, JSON, charsets), so the two decoders give
identical values; the type tests run against both.

The extension is optional: when it did not build (no C compiler at install time) or
``OTTER_PURE_PYTHON_DECODER=1`` is set, ``EXTENSION`` is None and rowcodec generates Python.
"""

from __future__ import annotations

import os
from decimal import Decimal
from typing import Any

from otter_mysql import field_types as T
from otter_mysql import values as V
from otter_mysql.schema import ColumnInfo

try:  # built by the package's setup.py (optional=True)
    from otter_mysql import _rowdecode

    _compiled: Any = _rowdecode
except ImportError:  # pragma: no cover - depends on the install
    _compiled = None

EXTENSION: Any = None if os.environ.get("OTTER_PURE_PYTHON_DECODER") == "1" else _compiled
BUILT: Any = _compiled  # the extension whatever the switch says (tests, benchmarks)

Op = tuple  # (column ordinal, opcode, size, pad, fn or labels or None, memo dict or None)
_INT_SIZES = {T.TINY: 1, T.SHORT: 2, T.INT24: 3, T.LONG: 4, T.LONGLONG: 8}
_NATIVE_TEMPORAL = {T.DATETIME2: "OP_DATETIME2", T.TIMESTAMP2: "OP_TIMESTAMP2", T.TIME2: "OP_TIME2"}


def _code(name: str) -> int:
    return getattr(BUILT, name)


def _text(ordinal: int, width: int, decoder: Any) -> Op:
    if decoder is None:
        return (ordinal, _code("OP_BYTES"), width, 0, None, None)
    if decoder is V._utf8:
        return (ordinal, _code("OP_UTF8"), width, 0, None, None)
    return (ordinal, _code("OP_BYTES_CALL"), width, 0, decoder, None)


def value_op(col: Any, info: ColumnInfo, ordinal: int) -> Op | None:
    """The operation decoding one non-NULL value of table-map column ``col``; None for a type only the
    generated Python handles (the caller then uses it, and it raises the unsupported-type error)."""
    t = col.type
    if t in _INT_SIZES:
        return (ordinal, _code("OP_UINT" if info.unsigned else "OP_INT"), _INT_SIZES[t], 0, None, None)
    if t == T.FLOAT:
        return (ordinal, _code("OP_FLOAT"), 4, 0, None, None)
    if t == T.DOUBLE:
        return (ordinal, _code("OP_DOUBLE"), 8, 0, None, None)
    if t == T.YEAR:
        return (ordinal, _code("OP_YEAR"), 1, 0, None, None)
    if t == T.NEWDECIMAL:
        size, _ = V.decimal_decoder(col.precision, col.decimals)
        return (ordinal, _code("OP_DECIMAL"), size, col.precision << 8 | col.decimals, Decimal, None)
    if t in (T.DATE, T.NEWDATE):  # zero and invalid dates: the same text as the generated code
        return (ordinal, _code("OP_DATE"), 3, 0, V.date_value, None)
    if t in V._TEMPORAL:
        base, factory = V._TEMPORAL[t]
        fb = (col.fsp + 1) // 2
        return (ordinal, _code(_NATIVE_TEMPORAL[t]), base + fb, fb, factory(fb), None)
    if t == T.TIMESTAMP:
        return (ordinal, _code("OP_LE_CALL"), 4, 0, V.old_timestamp, None)
    if t == T.DATETIME:
        return (ordinal, _code("OP_LE_CALL"), 8, 0, V.old_datetime, None)
    if t == T.TIME:
        return (ordinal, _code("OP_LE_SCALL"), 3, 0, V.old_time, None)
    if t == T.BIT:
        return (ordinal, _code("OP_BE_CALL"), col.bytes, 0, None, None)
    if t == T.ENUM:
        return (ordinal, _code("OP_ENUM"), col.size, 0, ("",) + tuple(info.values), None)
    if t == T.SET:
        return (ordinal, _code("OP_LE_CALL"), col.size, 0, V.set_decoder(info.values), None)
    if t in V._STRING_TYPES:
        decoder = V.text_decoder(info.charset)
        op = _text(ordinal, 2 if col.max_length > 255 else 1, decoder)
        if decoder is None and t == T.STRING:  # BINARY(n), INET6, UUID...: the binlog strips the 0x00 pad
            op = op[:3] + (col.max_length,) + op[4:]
        return op
    if t in V._BLOB_TYPES:
        decoder = None if info.data_type.endswith("blob") else V.text_decoder(info.charset)
        return _text(ordinal, col.length_size, decoder)
    if t == T.GEOMETRY:
        return _text(ordinal, col.length_size, None)
    if t == T.JSON:
        return (ordinal, _code("OP_BYTES_CALL"), col.length_size, 0, V.mysql_json, None)
    return None


def image_ops(columns: list[Any], infos: list[ColumnInfo], present: list[int]) -> tuple[Op, ...] | None:
    """The operations of one row image (its present columns in order); None when one is unsupported."""
    ops = []
    for i in present:
        op = value_op(columns[i], infos[i], i)
        if op is None:
            return None
        ops.append(op)
    return tuple(ops)

"""Rows with big values (a 16 MB BLOB): built as bytes, one at a time per process.

A multi-row statement is text: a 16 MB BLOB becomes a 32 MB hex literal, the joined statement another
32 MB, PyMySQL's encoding of it 32 MB more and its packet slices 16 MB each: ~130 MB for one row, and
``load_pool_size`` threads may do it at once. A row whose binlog image is bigger than ``BIG_ROW_BYTES``
is therefore sent in a statement of its own, built straight into one bytearray (hex written in 1 MB
pieces) and handed to PyMySQL as a memoryview (sliced into packets without copies), while holding
``GATE``: one such statement in the process at a time. The gate is held only while building and sending
that one statement, never while waiting for anything else, so it cannot deadlock; a row bigger than
any limit still goes through (alone).
"""

from __future__ import annotations

import binascii
import threading
from collections.abc import Iterable
from typing import Any

from otter_mysql.dialect import literal

BIG_ROW_BYTES = 1 << 20
GATE = threading.Lock()
_PIECE = 1 << 20


def statement(head: str, values: Iterable[Any], tail: str, encoding: str) -> memoryview:
    """``head (v1,…) tail`` as bytes in the connection's ``encoding``, bytes values as hex literals."""
    out = bytearray(head.encode(encoding))
    out += b"("
    for i, value in enumerate(values):
        if i:
            out += b","
        if isinstance(value, (bytes, bytearray)):
            out += b"X'"
            view = memoryview(value)
            for at in range(0, len(view), _PIECE):
                out += binascii.hexlify(view[at : at + _PIECE])
            out += b"'"
        else:
            out += literal(value).encode(encoding, "surrogateescape")
    out += b")"
    out += tail.encode(encoding)
    return memoryview(out)

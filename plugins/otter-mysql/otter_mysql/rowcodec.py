"""Row decoders: one per (table layout, row-event kind, bitmap).

A rows event body is a sequence of row images: a NULL bitmap over the present columns followed by the
non-NULL values. With the compiled extension (``otter_mysql._rowdecode``, see ``rowops``) a decoder is a
C object interpreting one operation per column; without it (no compiler at install time, or
``OTTER_PURE_PYTHON_DECODER=1``) it is a generated straight-line Python function (no per-value dispatch,
dicts built by a literal). Both return the same rows; both are several times faster than
mysql-replication's generic reader (the C one ~10x).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from typing import Any

from otter_core.spi import SourceError
from otter_mysql import rowops
from otter_mysql.schema import TableSchema
from otter_mysql.values import HELPERS, compatible, value_code

log = logging.getLogger("otter.select")
WRITE, UPDATE, DELETE = "I", "U", "D"
RowDecoder = Callable[[bytes], list]


def _present(bitmap: bytes, count: int) -> list[int]:
    return [i for i in range(count) if bitmap[i >> 3] >> (i & 7) & 1]


def named_layout(table: TableSchema, columns: Sequence[Any], where: str = "") -> TableSchema:
    """The layout by the column names the binlog carries (``binlog_row_metadata=FULL``), which are the
    truth for that rows event: the history's columns taken by name in binlog order. SourceError when a
    name is not in the history's version of the table (the history and the binlog disagree)."""
    found = [getattr(c, "name", None) for c in columns]
    if not found or any(n is None for n in found):
        return table
    names = [str(n) for n in found]
    if [c.name for c in table.columns] == names:
        return table
    missing = [n for n in names if n not in table.by_name]
    if missing or len(set(names)) != len(names):
        raise SourceError(
            f"binlog rows of {table.full_name}{where} have columns {', '.join(names)} but the schema "
            f"history has {', '.join(c.name for c in table.columns)} at that position: a DDL was not "
            f"followed; {_REMEDY}",
            retryable=False,
        )
    log.warning(
        "rows of %s%s: the binlog's column names give the order %s (the schema history had %s); "
        "decoding by the names",
        table.full_name,
        where,
        names,
        [c.name for c in table.columns],
    )
    cols = tuple(dataclasses.replace(table.by_name[n], ordinal=i) for i, n in enumerate(names))
    return dataclasses.replace(table, columns=cols, by_name={c.name: c for c in cols})


_REMEDY = (
    "set the pipeline's position past the DDL and resync the table (otter-run resync), or skip such rows "
    "to the reject log with skip_select_exception"
)


class RowCodec:
    """Decoders for one table as a table-map event describes it, named by ``table``'s schema.

    Raises SourceError when the binlog layout does not fit the schema (column count or types differ:
    the table changed after the binlog position being read).
    """

    def __init__(self, table: TableSchema, columns: Sequence[Any], where: str = "") -> None:
        self.ident = -1  # its number in the selector's handover registry, once registered
        self.columns = list(columns)
        table = self.table = named_layout(table, self.columns, where)
        if len(self.columns) != len(table.columns):
            raise SourceError(
                f"binlog rows of {table.full_name}{where} have {len(self.columns)} columns but the table "
                f"layout for that position has {len(table.columns)}: a DDL changed it that otter did not "
                f"see or follow; {_REMEDY}",
                retryable=False,
            )
        for col, info in zip(self.columns, table.columns):
            if not compatible(col.type, info):
                raise SourceError(
                    f"binlog column {info.name} of {table.full_name}{where} has binlog type {col.type}, "
                    f"which cannot be {info.column_type}: a DDL changed the table that otter did not see "
                    f"or follow; {_REMEDY}",
                    retryable=False,
                )
        self._decoders: dict[tuple, RowDecoder] = {}
        self.key_index = [table.by_name[n].ordinal for n in table.key]
        keys = set(table.key)
        self.data_index = [c.ordinal for c in table.columns if not c.generated and c.name not in keys]

    def decoder(
        self, kind: str, bitmap: bytes, bitmap2: bytes | None = None, before: bool = False
    ) -> RowDecoder:
        """The decoding function for a rows event of ``kind`` with the given present-column bitmaps.
        It returns, per row, ``(keys, columns, size)`` (WRITE/DELETE) or
        ``(keys, columns, old_keys, updated, size)`` (UPDATE; with ``before``, for conflict detection, the
        before image of the non-key columns follows as a sixth item: generated Python decoder only)."""
        cache_key = (kind, bitmap, bitmap2, before)
        fn = self._decoders.get(cache_key)
        if fn is None:
            fn = self._decoders[cache_key] = (
                self._generate(kind, bitmap, bitmap2, True)
                if before and kind == UPDATE
                else self._compile(kind, bitmap, bitmap2)
            )
        return fn

    # -- code generation ---------------------------------------------------------------------------
    def _present(self, bitmap: bytes) -> list[int]:
        present = _present(bitmap, len(self.columns))
        needed = set(self.key_index) | set(self.data_index)
        missing = sorted(needed - set(present))
        if missing:
            names = ", ".join(self.table.columns[i].name for i in missing)
            raise SourceError(
                f"rows of {self.table.full_name} were logged without columns {names}: the source must log "
                f"full row images (binlog_row_image=FULL, also in every writing session)",
                retryable=False,
            )
        return present

    def _extension(self, kind: str, bitmap: bytes, bitmap2: bytes | None) -> RowDecoder | None:
        """The compiled decoder, or None without the extension or for a type only Python decodes."""
        ext = rowops.EXTENSION
        if ext is None:
            return None
        infos = list(self.table.columns)
        before = rowops.image_ops(self.columns, infos, self._present(bitmap))
        after = (
            rowops.image_ops(self.columns, infos, self._present(bitmap2))
            if kind == UPDATE and bitmap2 is not None
            else None
        )
        if before is None or (kind == UPDATE and after is None):
            return None
        names = self.table.columns
        return ext.Decoder(
            len(self.columns),
            before,
            after,
            tuple(self.key_index),
            tuple(names[i].name for i in self.key_index),
            tuple(self.data_index),
            tuple(names[i].name for i in self.data_index),
        )

    def _image(self, prefix: str, bitmap: bytes, ns: dict[str, Any], lines: list[str]) -> None:
        present = self._present(bitmap)
        width = (len(present) + 7) // 8
        nulls = "d[p]" if width == 1 else f"int.from_bytes(d[p:p + {width}], 'little')"
        lines += [f"nb = {nulls}", f"p += {width}"]
        for bit, i in enumerate(present):
            var = f"{prefix}{i}"
            code = value_code(self.columns[i], self.table.columns[i], var, ns, f"{i}")
            lines += [f"if nb & {1 << bit}:", f"    {var} = None", "else:"] + [f"    {c}" for c in code]

    def _dict(self, prefix: str, index: list[int]) -> str:
        names = self.table.columns
        return "{" + ", ".join(f"{names[i].name!r}: {prefix}{i}" for i in index) + "}"

    def _compile(self, kind: str, bitmap: bytes, bitmap2: bytes | None) -> RowDecoder:
        compiled = self._extension(kind, bitmap, bitmap2)
        if compiled is not None:
            return compiled
        return self._generate(kind, bitmap, bitmap2)

    def _generate(self, kind: str, bitmap: bytes, bitmap2: bytes | None, before: bool = False) -> RowDecoder:
        """A generated Python decoder (the fallback without the extension)."""
        ns: dict[str, Any] = dict(HELPERS)
        body: list[str] = ["s = p"]
        if kind == UPDATE:
            assert bitmap2 is not None
            self._image("b", bitmap, ns, body)
            self._image("a", bitmap2, ns, body)
            old = " or ".join(f"b{i} != a{i}" for i in self.key_index) or "False"
            body.append("u = []")
            for i in self.data_index:
                body.append(f"if b{i} != a{i}: u.append({self.table.columns[i].name!r})")
            body.append(
                f"ap(({self._dict('a', self.key_index)}, {self._dict('a', self.data_index)}, "
                f"{self._dict('b', self.key_index)} if {old} else None, frozenset(u), p - s"
                + (f", {self._dict('b', self.data_index)}))" if before else "))")
            )
        else:
            self._image("v", bitmap, ns, body)
            body.append(f"ap(({self._dict('v', self.key_index)}, {self._dict('v', self.data_index)}, p - s))")
        src = (
            [
                "def decode(d):",
                "    out = []",
                "    ap = out.append",
                "    p = 0",
                "    end = len(d)",
                "    while p < end:",
            ]
            + [f"        {line}" for line in body]
            + ["    return out"]
        )
        code = "\n".join(src)
        exec(compile(code, f"<rowcodec {self.table.full_name} {kind}>", "exec"), ns)
        fn = ns["decode"]
        fn.source = code
        return fn

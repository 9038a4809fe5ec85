"""A small parser that tells which tables a binlog query event (DDL, or statement-format DML) names."""

from __future__ import annotations

import re
from typing import NamedTuple

_NAME = r"(?:`(?:[^`]|``)+`|[\w$]+)"
_QNAME = rf"{_NAME}(?:\s*\.\s*{_NAME})?"
_COMMENT = re.compile(r"/\*.*?\*/|(?:--\s|#)[^\n]*", re.S)
_F = re.I | re.S


class Statement(NamedTuple):
    """``kind``: 'table' (table DDL), 'database' (CREATE/DROP/ALTER DATABASE), 'dml' (statement-format
    row change), 'control' (BEGIN, COMMIT, SAVEPOINT, XA...) or 'other'. ``tables``: (schema, table)."""

    kind: str
    tables: tuple[tuple[str, str], ...] = ()
    database: str | None = None


_TABLE_DDL = [
    re.compile(p, _F)
    for p in (
        rf"^ALTER\s+(?:ONLINE\s+|OFFLINE\s+)?(?:IGNORE\s+)?TABLE\s+(?:IF\s+EXISTS\s+)?({_QNAME})",
        rf"^CREATE\s+(?:OR\s+REPLACE\s+)?(?:TEMPORARY\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?({_QNAME})",
        rf"^TRUNCATE\s+(?:TABLE\s+)?({_QNAME})",
        rf"^CREATE\s+(?:OR\s+REPLACE\s+)?(?:ONLINE\s+|OFFLINE\s+)?(?:UNIQUE\s+|FULLTEXT\s+|SPATIAL\s+)?"
        rf"INDEX\s+(?:IF\s+NOT\s+EXISTS\s+)?{_NAME}.*?\sON\s+({_QNAME})",
        rf"^DROP\s+INDEX\s+(?:IF\s+EXISTS\s+)?{_NAME}\s+ON\s+({_QNAME})",
    )
]
_TABLE_LIST = re.compile(
    r"^(?:DROP\s+(?:TEMPORARY\s+)?TABLES?\s+(?:IF\s+EXISTS\s+)?|RENAME\s+TABLES?\s+)"
    r"(.*)$",
    _F,
)
_ALTER_RENAME = re.compile(rf"\sRENAME\s+(?:TO\s+|AS\s+)?({_QNAME})", _F)
_DATABASE = re.compile(
    rf"^(?:CREATE|DROP|ALTER)\s+(?:DATABASE|SCHEMA)\s+(?:IF\s+(?:NOT\s+)?EXISTS\s+)?"
    rf"({_NAME})",
    _F,
)
_DML = re.compile(
    rf"^(?:INSERT|REPLACE)(?:\s+(?:LOW_PRIORITY|DELAYED|HIGH_PRIORITY|IGNORE))*\s+"
    rf"(?:INTO\s+)?({_QNAME})|^UPDATE\s+(?:LOW_PRIORITY\s+)?(?:IGNORE\s+)?({_QNAME})"
    rf"|^DELETE\s+(?:LOW_PRIORITY\s+)?(?:QUICK\s+)?(?:IGNORE\s+)?FROM\s+({_QNAME})"
    rf"|^LOAD\s+DATA\s.*?\sINTO\s+TABLE\s+({_QNAME})",
    _F,
)
_CONTROL = re.compile(
    r"^(?:BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE\s+SAVEPOINT|XA\s|START\s+TRANSACTION)", _F
)
_QNAME_RE = re.compile(_QNAME)


def _unquote(name: str) -> str:
    name = name.strip()
    return name[1:-1].replace("``", "`") if name.startswith("`") else name


def split_name(qname: str, default_schema: str) -> tuple[str, str]:
    """'`db`.`t`' -> ('db', 't'); 't' -> (default_schema, 't')."""
    parts = re.findall(_NAME, qname)
    if len(parts) == 2:
        return _unquote(parts[0]), _unquote(parts[1])
    return default_schema, _unquote(parts[0])


def parse(query: str, default_schema: str = "") -> Statement:
    """Classify a binlog query and name the tables it touches (comments are ignored)."""
    text = _COMMENT.sub(" ", query).strip()
    if _CONTROL.match(text):
        return Statement("control")
    m = _DATABASE.match(text)
    if m:
        return Statement("database", database=_unquote(m[1]))
    for pattern in _TABLE_DDL:
        m = pattern.match(text)
        if m:
            names = [split_name(m[1], default_schema)]
            if text[:5].upper() == "ALTER":
                names += [split_name(r, default_schema) for r in _ALTER_RENAME.findall(text)]
            return Statement("table", tuple(names))
    m = _TABLE_LIST.match(text)
    if m:
        names = [
            split_name(q, default_schema)
            for q in _QNAME_RE.findall(m[1])
            if q.upper() not in ("TO", "WAIT", "NOWAIT", "RESTRICT", "CASCADE") and not q.isdigit()
        ]
        return Statement("table", tuple(names))
    m = _DML.match(text)
    if m:
        qname = next(g for g in m.groups() if g)
        return Statement("dml", (split_name(qname, default_schema),))
    return Statement("other")

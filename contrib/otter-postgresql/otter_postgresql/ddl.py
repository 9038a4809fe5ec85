"""MySQL DDL -> PostgreSQL DDL, for the statements replication meets most; anything else is refused.

Translated (each made safe to replay after a crash):
CREATE TABLE [IF NOT EXISTS] (columns, PRIMARY KEY, UNIQUE; other indexes, foreign keys, checks and
table options are left out), CREATE TABLE … LIKE, ALTER TABLE with ADD/DROP/MODIFY/CHANGE/RENAME
COLUMN, RENAME TO, ADD/DROP INDEX|KEY (indexes are not created: ignored), DROP TABLE, TRUNCATE, RENAME
TABLE, CREATE/DROP DATABASE (a PostgreSQL schema). ``translate`` returns the PostgreSQL statements (an
empty list for a statement with nothing to do on PostgreSQL) or raises ``Untranslatable``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from otter_core.spi import DataError
from otter_postgresql.dialect import quote_ident
from otter_postgresql.types import pg_type

_NAME = r"(?:`(?:[^`]|``)+`|[\w$]+)"
_QNAME = rf"{_NAME}(?:\s*\.\s*{_NAME})?"
_COMMENT = re.compile(r"/\*.*?\*/|(?:--\s|#)[^\n]*", re.S)
_F = re.I | re.S


class Untranslatable(DataError):
    """A MySQL DDL statement otter cannot translate to PostgreSQL."""

    retryable = False


def _unquote(name: str) -> str:
    name = name.strip()
    return name[1:-1].replace("``", "`") if name.startswith("`") else name


def _qualified(qname: str, schema: str) -> str:
    parts = re.findall(_NAME, qname)
    if len(parts) == 2:
        return f"{quote_ident(_unquote(parts[0]))}.{quote_ident(_unquote(parts[1]))}"
    return f"{quote_ident(schema)}.{quote_ident(_unquote(parts[0]))}"


def _scan(text: str, start: int = 0) -> Iterator[tuple[int, str, int]]:
    """(index, character, parenthesis depth after it) for every character outside quotes and backticks."""
    depth, quote, i = 0, "", start
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\" and quote != "`":
                i += 1
            elif c == quote:
                quote = ""
        elif c in "'\"`":
            quote = c
        else:
            depth += (c == "(") - (c == ")")
            yield i, c, depth
        i += 1


def split_top_level(text: str, sep: str = ",") -> list[str]:
    """Split at ``sep`` outside parentheses, quotes and backticks."""
    parts, start = [], 0
    for i, c, depth in _scan(text):
        if c == sep and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return [p for p in parts if p]


def _body(text: str, open_at: int) -> tuple[str, int]:
    """The text inside the parenthesis that opens at ``open_at`` and the index after it closes."""
    for i, c, depth in _scan(text, open_at):
        if c == ")" and depth == 0:
            return text[open_at + 1 : i], i + 1
    raise Untranslatable("unbalanced parentheses")


_COLUMN = re.compile(
    rf"^(?P<name>{_NAME})\s+(?P<type>[a-z][a-z0-9_]*(?:\s+precision)?(?:\s*\([^)]*\))?"
    r"(?:\s+(?:unsigned|signed|zerofill))*)(?P<rest>.*)$",
    _F,
)
_DEFAULT = re.compile(
    r"\bDEFAULT\s+('(?:[^'\\]|\\.|'')*'|-?\d+(?:\.\d+)?|NULL|CURRENT_TIMESTAMP(?:\(\d*\))?"
    r"|current_timestamp\(\)|now\(\))",
    re.I,
)


def column_definition(spec: str) -> tuple[str, bool]:
    """``"name" type [NOT NULL] [DEFAULT …]`` for a MySQL column spec, and whether it says PRIMARY KEY."""
    m = _COLUMN.match(spec.strip())
    if not m:
        raise Untranslatable(f"column definition {spec!r} is not understood")
    name, rest = _unquote(m["name"]), m["rest"]
    out = f"{quote_ident(name)} {pg_type(m['type'])}"
    generated = re.search(r"\b(?:GENERATED\s+ALWAYS\s+)?AS\s*\(", rest, re.I)
    if generated:  # PostgreSQL 15 has STORED generated columns only; the expression is copied as is
        expression, _ = _body(rest, generated.end() - 1)
        expression = re.sub(r"`((?:[^`]|``)+)`", lambda q: quote_ident(q[1].replace("``", "`")), expression)
        return f"{out} GENERATED ALWAYS AS ({expression}) STORED", False
    if re.search(r"\bNOT\s+NULL\b", rest, re.I):
        out += " NOT NULL"
    default = _DEFAULT.search(rest)
    if default:
        value = default[1]
        if value.startswith("'"):
            text = value[1:-1].replace("''", "'").replace("\\'", "'").replace("\\\\", "\\")
            value = "'" + text.replace("'", "''") + "'"
        elif value.lower().startswith(("current_timestamp", "now")):
            value = "CURRENT_TIMESTAMP"
        out += f" DEFAULT {value}"
    return out, bool(re.search(r"\bPRIMARY\s+KEY\b", rest, re.I))


def _columns_of(spec: str) -> str:
    body, _ = _body(spec, spec.index("("))
    names = [quote_ident(_unquote(_leading_name(c, spec))) for c in split_top_level(body)]
    return ", ".join(names)


def _leading_name(part: str, spec: str) -> str:
    found = re.match(rf"\s*({_NAME})", part)
    if found is None:
        raise DataError(
            f"no column name at the start of {part.strip()!r} in {spec!r}: apply this DDL by hand"
        )
    return found[1]


def _create_table(m: re.Match, schema: str) -> list[str]:
    name = _qualified(m["name"], schema)
    rest = m["rest"].strip()
    like = re.match(rf"^\(?\s*LIKE\s+({_QNAME})\s*\)?", rest, _F)
    if like:
        return [f"CREATE TABLE IF NOT EXISTS {name} (LIKE {_qualified(like[1], schema)} INCLUDING ALL)"]
    if not rest.startswith("("):
        raise Untranslatable("CREATE TABLE … SELECT is not translated")
    body, _ = _body(rest, 0)
    parts, keys = [], []
    for spec in split_top_level(body):
        head = spec.split(None, 1)[0].upper()
        if head == "PRIMARY":
            keys = [_columns_of(spec)]
        elif head == "UNIQUE":
            parts.append(f"UNIQUE ({_columns_of(spec)})")
        elif head in ("KEY", "INDEX", "FULLTEXT", "SPATIAL", "CONSTRAINT", "FOREIGN", "CHECK", "PERIOD"):
            continue
        else:
            column, is_key = column_definition(spec)
            parts.append(column)
            if is_key:
                keys = [column.split(" ", 1)[0]]
    if keys:
        parts.append(f"PRIMARY KEY ({keys[0]})")
    return [f"CREATE TABLE IF NOT EXISTS {name} (" + ", ".join(parts) + ")"]


def _alter_table(m: re.Match, schema: str) -> list[str]:
    table = _qualified(m["name"], schema)
    out: list[str] = []
    for spec in split_top_level(m["rest"]):
        spec = re.sub(r"\s+(?:FIRST|AFTER\s+" + _NAME + r")\s*$", "", spec.strip(), flags=re.I)
        add_index = re.match(
            r"^ADD\s+(?:UNIQUE\s+|FULLTEXT\s+|SPATIAL\s+)?(?:INDEX|KEY)\b|^DROP\s+(?:INDEX|KEY)\b"
            r"|^ADD\s+(?:CONSTRAINT\s+\S+\s+)?FOREIGN\s+KEY|^DROP\s+FOREIGN\s+KEY",
            spec,
            re.I,
        )
        if add_index or re.match(
            r"^(?:ENGINE|DEFAULT\s+CHARSET|CHARSET|COMMENT|AUTO_INCREMENT|ROW_FORMAT|"
            r"CONVERT\s+TO|ALGORITHM|LOCK)\b",
            spec,
            re.I,
        ):
            continue  # indexes, engines, charsets, comments: nothing to do for the rows on PostgreSQL
        add = re.match(r"^ADD\s+(?:COLUMN\s+)?(?:IF\s+NOT\s+EXISTS\s+)?(.*)$", spec, _F)
        drop = re.match(rf"^DROP\s+(?:COLUMN\s+)?(?:IF\s+EXISTS\s+)?({_NAME})$", spec, _F)
        modify = re.match(r"^MODIFY\s+(?:COLUMN\s+)?(.*)$", spec, _F)
        change = re.match(rf"^CHANGE\s+(?:COLUMN\s+)?({_NAME})\s+(.*)$", spec, _F)
        rename_col = re.match(rf"^RENAME\s+COLUMN\s+({_NAME})\s+TO\s+({_NAME})$", spec, _F)
        rename = re.match(rf"^RENAME\s+(?:TO\s+|AS\s+)?({_QNAME})$", spec, _F)
        if add and not add[1].upper().startswith(("PRIMARY", "UNIQUE", "CONSTRAINT", "CHECK")):
            column, _ = column_definition(add[1])
            out.append(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column}")
        elif drop:
            out.append(f"ALTER TABLE {table} DROP COLUMN IF EXISTS {quote_ident(_unquote(drop[1]))}")
        elif modify or change:
            spec_text = modify[1] if modify else change[2] if change else ""
            column, _ = column_definition(spec_text)
            new_name, new_type = column.split(" ", 1)
            if change and _unquote(change[1]) != new_name.strip('"').replace('""', '"'):
                out.append(
                    f"ALTER TABLE {table} RENAME COLUMN {quote_ident(_unquote(change[1]))} TO {new_name}"
                )
            pg_only_type = new_type.replace(" NOT NULL", "").split(" DEFAULT ")[0]
            out.append(
                f"ALTER TABLE {table} ALTER COLUMN {new_name} TYPE {pg_only_type} "
                f"USING {new_name}::{pg_only_type}"
            )
            out.append(
                f"ALTER TABLE {table} ALTER COLUMN {new_name} "
                + ("SET NOT NULL" if " NOT NULL" in new_type else "DROP NOT NULL")
            )
        elif rename_col:
            out.append(
                f"ALTER TABLE {table} RENAME COLUMN {quote_ident(_unquote(rename_col[1]))} "
                f"TO {quote_ident(_unquote(rename_col[2]))}"
            )
        elif rename:
            out.append(
                f"ALTER TABLE IF EXISTS {table} RENAME TO {quote_ident(_unquote(re.findall(_NAME, rename[1])[-1]))}"
            )
        else:
            raise Untranslatable(f"ALTER TABLE clause {spec!r} is not translated")
    return out


def _table_list(text: str) -> list[str]:
    return [
        q
        for q in re.findall(_QNAME, text)
        if q.upper() not in ("RESTRICT", "CASCADE", "WAIT", "NOWAIT") and not q.isdigit()
    ]


_STATEMENTS: list[tuple[re.Pattern, Callable[[re.Match, str], list[str]]]] = [
    (
        re.compile(
            rf"^CREATE\s+(?:OR\s+REPLACE\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(?P<name>{_QNAME})\s*(?P<rest>.*)$",
            _F,
        ),
        _create_table,
    ),
    (
        re.compile(
            rf"^ALTER\s+(?:ONLINE\s+|IGNORE\s+)*TABLE\s+(?:IF\s+EXISTS\s+)?(?P<name>{_QNAME})\s+(?P<rest>.*)$",
            _F,
        ),
        _alter_table,
    ),
    (
        re.compile(r"^DROP\s+(?:TEMPORARY\s+)?TABLES?\s+(?:IF\s+EXISTS\s+)?(?P<rest>.*)$", _F),
        lambda m, s: [f"DROP TABLE IF EXISTS {_qualified(q, s)}" for q in _table_list(m["rest"])],
    ),
    (
        re.compile(rf"^TRUNCATE\s+(?:TABLE\s+)?(?P<name>{_QNAME})\s*$", _F),
        lambda m, s: [f"TRUNCATE {_qualified(m['name'], s)}"],
    ),
    (
        re.compile(r"^RENAME\s+TABLES?\s+(?P<rest>.*)$", _F),
        lambda m, s: [
            f"ALTER TABLE IF EXISTS {_qualified(a, s)} RENAME TO {quote_ident(_unquote(re.findall(_NAME, b)[-1]))}"
            for a, b in (re.split(r"\s+TO\s+", p, flags=re.I) for p in split_top_level(m["rest"]))
        ],
    ),
    (
        re.compile(rf"^CREATE\s+(?:DATABASE|SCHEMA)\s+(?:IF\s+NOT\s+EXISTS\s+)?(?P<name>{_NAME})", _F),
        lambda m, s: [f"CREATE SCHEMA IF NOT EXISTS {quote_ident(_unquote(m['name']))}"],
    ),
    (
        re.compile(rf"^DROP\s+(?:DATABASE|SCHEMA)\s+(?:IF\s+EXISTS\s+)?(?P<name>{_NAME})", _F),
        lambda m, s: [f"DROP SCHEMA IF EXISTS {quote_ident(_unquote(m['name']))} CASCADE"],
    ),
    (
        re.compile(
            r"^(?:CREATE\s+(?:OR\s+REPLACE\s+)?(?:UNIQUE\s+|FULLTEXT\s+|SPATIAL\s+)?INDEX|DROP\s+INDEX)\b", _F
        ),
        lambda m, s: [],
    ),  # indexes are the target's own business
]


def translate(sql: str, schema: str) -> list[str]:
    """PostgreSQL statements for one MySQL DDL statement run with default schema ``schema``."""
    text = _COMMENT.sub(" ", sql).strip().rstrip(";").strip()
    for pattern, build in _STATEMENTS:
        m = pattern.match(text)
        if m:
            try:
                return build(m, schema)
            except Untranslatable as exc:
                raise Untranslatable(f"{exc} in {sql[:300]!r}") from None
            except DataError as exc:  # an unmappable column type
                raise Untranslatable(f"{exc} (in {sql[:300]!r})") from None
    raise Untranslatable(f"{sql[:300]!r} is not a DDL statement otter translates to PostgreSQL")

"""Column and index definitions of CREATE/ALTER TABLE, parsed into what decoding needs (``ColumnInfo``
and unique key parts) for the schema history's models."""

from __future__ import annotations

from otter_mysql.ddl_tokens import (
    Cursor,
    Unfollowable,
    charset_of_collation,
    ident,
    normal_charset,
    split_commas,
)
from otter_mysql.schema import ColumnInfo, parse_enum_values

_TYPE_ALIASES = {
    "integer": "int",
    "int4": "int",
    "int1": "tinyint",
    "int2": "smallint",
    "int3": "mediumint",
    "middleint": "mediumint",
    "int8": "bigint",
    "dec": "decimal",
    "numeric": "decimal",
    "fixed": "decimal",
    "real": "double",
    "float8": "double",
    "float4": "float",
    "nchar": "char",
    "nvarchar": "varchar",
}
_INTS = {"tinyint", "smallint", "mediumint", "int", "bigint"}
_TEXT = {"char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set"}
_NUMERIC = _INTS | {"decimal", "float", "double", "bit", "year"}
_PLAIN = set(
    (
        "date datetime timestamp time year bit binary varbinary tinyblob blob mediumblob longblob "
        "geometry point linestring polygon multipoint multilinestring multipolygon "
        "geometrycollection inet4 inet6 uuid decimal float double"
    ).split()
)
_KNOWN = _INTS | _TEXT | _PLAIN | {"json", "bool", "boolean", "serial"}
# column attributes that do not change how a row image is decoded, with how many tokens follow them
_SKIP_WORDS = {
    "AUTO_INCREMENT": 0,
    "INVISIBLE": 0,
    "ZEROFILL": 0,
    "SIGNED": 0,
    "COMMENT": 1,
    "COLUMN_FORMAT": 1,
    "STORAGE": 1,
    "SRID": 1,
}


def column_def(
    cur: Cursor, name: str, table_charset: str | None
) -> tuple[ColumnInfo, list[tuple[str, bool]]]:
    """Parse a column definition after its name; also returns inline keys as (index name, primary)."""
    raw = cur.take().lower()
    if raw == "national":
        raw = cur.take().lower()
        charset: str | None = "utf8mb3"
    else:
        charset = None
    if raw == "double" and cur.accept("PRECISION"):
        pass
    if raw in ("character", "char") and cur.accept("VARYING"):
        raw = "varchar"
    if raw == "long":
        raw = "mediumblob" if cur.accept("VARBINARY") else "mediumtext"
        cur.accept("VARCHAR")
    data_type = _TYPE_ALIASES.get(raw, raw)
    if data_type == "character":
        data_type = "char"
    if data_type not in _KNOWN:
        raise Unfollowable(f"column {name}: type {raw} is not modelled")
    args = cur.group() if cur.peek() == "(" else []
    unsigned = False
    nullable = True
    generated = False
    keys: list[tuple[str, bool]] = []
    collation_charset: str | None = None
    binary_attr = False
    if data_type in ("bool", "boolean"):
        data_type, args = "tinyint", ["1"]
    if data_type == "serial":
        data_type, unsigned, nullable = "bigint", True, False
        keys.append((name, False))
    if data_type == "json":
        data_type, charset = "longtext", "utf8mb4"
    while not cur.at_end() and cur.word() not in ("FIRST", "AFTER"):
        w = cur.word()
        if w == "UNSIGNED":
            unsigned = data_type in _NUMERIC
            cur.take()
        elif w in ("CHARACTER", "CHARSET"):
            cur.take()
            if w == "CHARACTER":
                cur.expect("SET")
            charset = normal_charset(cur.take())
        elif w == "COLLATE":
            cur.take()
            collation_charset = charset_of_collation(normal_charset(cur.take()))
        elif w == "BINARY":
            cur.take()
            binary_attr = True
        elif w in ("ASCII", "BYTE", "UNICODE"):
            cur.take()
            charset = {"ASCII": "latin1", "BYTE": "binary", "UNICODE": "ucs2"}[w]
        elif cur.accept("NOT", "NULL"):
            nullable = False
        elif w == "NULL":
            cur.take()
        elif w == "DEFAULT":
            cur.take()
            cur.skip_value()
        elif cur.accept("ON", "UPDATE"):
            cur.skip_value()
        elif w in ("AS", "GENERATED"):
            if cur.accept("GENERATED"):
                cur.expect("ALWAYS")
            cur.expect("AS")
            cur.group()
            generated = True
        elif w in ("VIRTUAL", "STORED", "PERSISTENT"):
            cur.take()
        elif cur.accept("PRIMARY", "KEY") or cur.accept("KEY"):
            keys.append(("PRIMARY", True))
            nullable = False
        elif cur.accept("UNIQUE"):
            cur.accept("KEY")
            keys.append((name, False))
        elif w == "CHECK":
            cur.take()
            cur.group()
        elif w == "REFERENCES":
            cur.take()
            cur.take()
            if cur.peek() == "(":
                cur.group()
            while cur.word() in ("ON", "MATCH"):
                if cur.accept("MATCH"):
                    cur.take()
                    continue
                cur.take()
                cur.take()
                if cur.word() in ("NULL", "ACTION", "DEFAULT"):
                    cur.take()
        elif w in ("WITH", "WITHOUT") and cur.word(1) == "SYSTEM":
            raise Unfollowable(f"column {name}: system versioning is not modelled")
        elif w == "COMPRESSED":
            raise Unfollowable(f"column {name}: compressed columns are not modelled")
        elif w in _SKIP_WORDS:
            cur.take()
            cur.accept("=")
            for _ in range(_SKIP_WORDS[w]):
                cur.take()
        else:
            raise Unfollowable(f"column {name}: attribute {cur.peek()!r} is not modelled")
    if data_type in _TEXT:
        charset = charset or collation_charset or table_charset
        if charset == "binary":
            data_type = {"char": "binary", "varchar": "varbinary"}.get(
                data_type, data_type.replace("text", "blob")
            )
    elif binary_attr and data_type not in _NUMERIC:
        raise Unfollowable(f"column {name}: BINARY on {data_type} is not modelled")
    if data_type not in _TEXT or data_type in ("binary", "varbinary") or data_type.endswith("blob"):
        charset = None
    spelled = f"{data_type}({''.join(args)})" if args else data_type
    if unsigned:
        spelled += " unsigned"
    values = parse_enum_values(spelled) if data_type in ("enum", "set") else ()
    info = ColumnInfo(name, 0, data_type, spelled, unsigned, charset, nullable, generated, values)
    return info, keys


def key_parts(toks: list[str]) -> list[tuple[str, int | None]]:
    """``(a, b(10) DESC)`` -> [("a", None), ("b", 10)]."""
    parts = []
    for part in split_commas(toks):
        if part[0] == "(":
            raise Unfollowable("an index on an expression is not modelled")
        sub = int(part[2]) if len(part) > 3 and part[1] == "(" else None
        parts.append((ident(part[0]), sub))
    return parts


# the first words of an index or constraint definition (CREATE TABLE item, ALTER TABLE ADD): index_def's
KEY_WORDS = frozenset(
    ("CONSTRAINT", "PRIMARY", "UNIQUE", "INDEX", "KEY", "FULLTEXT", "SPATIAL", "FOREIGN", "CHECK", "PERIOD")
)


def index_def(cur: Cursor) -> tuple[str | None, bool, list[tuple[str, int | None]]] | None:
    """An index/constraint definition (CREATE TABLE item or ALTER ADD): (name, unique, parts) for a
    PRIMARY or UNIQUE key, None for a non-unique index, CHECK, FOREIGN KEY or PERIOD."""
    symbol: str | None = None
    name: str | None
    if cur.accept("CONSTRAINT"):
        if cur.word() not in ("PRIMARY", "UNIQUE", "FOREIGN", "CHECK"):
            symbol = ident(cur.take())
    if cur.accept("PRIMARY", "KEY"):
        name, unique = "PRIMARY", True
    elif cur.accept("UNIQUE"):
        cur.accept("INDEX") or cur.accept("KEY")
        cur.accept("IF", "NOT", "EXISTS")
        name, unique = symbol, True
        if cur.peek() != "(" and cur.word() != "USING":
            name = ident(cur.take())
    elif cur.word() in ("INDEX", "KEY", "FULLTEXT", "SPATIAL", "FOREIGN", "CHECK", "PERIOD"):
        while not cur.at_end():
            cur.group() if cur.peek() == "(" else cur.take()
        return None
    else:
        raise Unfollowable(f"index definition near {cur.peek()!r} is not modelled")
    if cur.accept("USING"):
        cur.take()
    parts = key_parts(cur.group())
    while not cur.at_end():  # USING, COMMENT, ... after the columns
        cur.group() if cur.peek() == "(" else cur.take()
    return name, unique, parts


def position_clause(cur: Cursor) -> tuple[str, str] | None:
    if cur.accept("FIRST"):
        return ("FIRST", "")
    if cur.accept("AFTER"):
        return ("AFTER", ident(cur.take()))
    return None

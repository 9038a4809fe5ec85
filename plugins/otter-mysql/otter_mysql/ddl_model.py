"""An in-memory model of a table that binlog DDL statements are applied to (the schema history's parser).

Only what decoding needs is modelled: the columns in order (type, signedness, charset, ENUM/SET labels,
NULL-ability, generated) and the unique indexes the row key is chosen from. A statement the parser does
not understand raises ``Unfollowable``: the history then marks the table unknown rather than guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from otter_mysql.schema import ColumnInfo, TableSchema, choose_key, parse_enum_values


class Unfollowable(Exception):
    """A DDL the model cannot apply exactly (its text is in the message)."""


_TOKEN = re.compile(r"`(?:[^`]|``)*`|'(?:[^'\\]|''|\\.)*'|\"(?:[^\"\\]|\"\"|\\.)*\"|[\w$.]+|[(),=;]|\S", re.S)
_COMMENT = re.compile(r"/\*.*?\*/|(?:--\s|#)[^\n]*", re.S)
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


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(_COMMENT.sub(" ", text))


def ident(token: str) -> str:
    return token[1:-1].replace("``", "`") if token.startswith("`") else token


def charset_of_collation(collation: str) -> str:
    return collation.split("_", 1)[0]


def normal_charset(name: str) -> str:
    name = ident(name.strip("'\"")).lower()
    return "utf8mb3" if name == "utf8" else name


@dataclass
class TableModel:
    """A table as the history knows it; ``freeze`` gives the ``TableSchema`` the decoders use."""

    schema: str
    name: str
    columns: list[ColumnInfo]
    indexes: dict[str, tuple[bool, list[tuple[str, int | None]]]] = field(default_factory=dict)
    charset: str | None = None  # the table's default character set

    def copy(self, schema: str | None = None, name: str | None = None) -> TableModel:
        return TableModel(
            schema or self.schema,
            name or self.name,
            list(self.columns),
            {k: (u, list(p)) for k, (u, p) in self.indexes.items()},
            self.charset,
        )

    def freeze(self) -> TableSchema:
        columns = tuple(replace(c, ordinal=i) for i, c in enumerate(self.columns))
        by_name = {c.name: c for c in columns}
        key, key_name = choose_key(by_name, self.indexes)
        return TableSchema(self.schema, self.name, columns, key, key_name, by_name)

    def to_dict(self) -> dict:
        return {
            "schema": self.schema,
            "name": self.name,
            "charset": self.charset,
            "columns": [
                [c.name, c.data_type, c.column_type, c.unsigned, c.charset, c.nullable, c.generated, c.values]
                for c in self.columns
            ],
            "indexes": {k: [u, [list(p) for p in parts]] for k, (u, parts) in self.indexes.items()},
        }

    @classmethod
    def from_dict(cls, data: dict) -> TableModel:
        columns = [
            ColumnInfo(n, i, d, t, u, cs, nl, g, tuple(v))
            for i, (n, d, t, u, cs, nl, g, v) in enumerate(data["columns"])
        ]
        indexes = {k: (u, [(c, s) for c, s in parts]) for k, (u, parts) in data["indexes"].items()}
        return cls(data["schema"], data["name"], columns, indexes, data.get("charset"))

    # -- edits ---------------------------------------------------------------------------------
    def position_of(self, name: str) -> int:
        for i, c in enumerate(self.columns):
            if c.name.lower() == name.lower():
                return i
        raise Unfollowable(f"column {name} does not exist in the model of {self.schema}.{self.name}")

    def has(self, name: str) -> bool:
        return any(c.name.lower() == name.lower() for c in self.columns)

    def place(self, column: ColumnInfo, where: tuple[str, str] | None, at: int | None = None) -> None:
        """Insert ``column`` FIRST / AFTER x / at ``at`` (its old place) / last."""
        if where is not None and where[0] == "FIRST":
            self.columns.insert(0, column)
        elif where is not None:
            self.columns.insert(self.position_of(where[1]) + 1, column)
        elif at is not None:
            self.columns.insert(at, column)
        else:
            self.columns.append(column)

    def rename_in_indexes(self, old: str, new: str) -> None:
        for name, (unique, parts) in self.indexes.items():
            self.indexes[name] = (unique, [(new if c.lower() == old.lower() else c, s) for c, s in parts])

    def drop_from_indexes(self, column: str) -> None:
        for name, (unique, parts) in list(self.indexes.items()):
            kept = [(c, s) for c, s in parts if c.lower() != column.lower()]
            if kept:
                self.indexes[name] = (unique, kept)
            else:
                del self.indexes[name]

    def add_index(self, name: str | None, unique: bool, parts: list[tuple[str, int | None]]) -> None:
        if name is None:
            base = name = parts[0][0]
            n = 2
            while name in self.indexes:
                name, n = f"{base}_{n}", n + 1
        self.indexes[name] = (unique, parts)
        if name == "PRIMARY":  # key columns are NOT NULL
            keys = {c.lower() for c, _ in parts}
            self.columns = [replace(c, nullable=False) if c.name.lower() in keys else c for c in self.columns]


class Cursor:
    """Tokens of one statement with a read position."""

    def __init__(self, toks: list[str], text: str) -> None:
        self.toks = toks
        self.i = 0
        self.text = text

    def peek(self, ahead: int = 0) -> str:
        j = self.i + ahead
        return self.toks[j] if j < len(self.toks) else ""

    def word(self, ahead: int = 0) -> str:
        tok = self.peek(ahead)
        return "" if tok.startswith("`") else tok.upper()

    def take(self) -> str:
        tok = self.peek()
        if not tok:
            raise Unfollowable("unexpected end of statement")
        self.i += 1
        return tok

    def accept(self, *words: str) -> bool:
        """Consume the words when they come next (case-insensitive, unquoted)."""
        if all(self.word(k) == w for k, w in enumerate(words)):
            self.i += len(words)
            return True
        return False

    def expect(self, *words: str) -> None:
        if not self.accept(*words):
            raise Unfollowable(f"expected {' '.join(words)} near {self.peek()!r}")

    def group(self) -> list[str]:
        """The tokens inside the parenthesised group that starts here (consumed)."""
        if self.peek() != "(":
            raise Unfollowable(f"expected ( near {self.peek()!r}")
        depth, start = 0, self.i
        while True:
            tok = self.take()
            depth += tok == "("
            depth -= tok == ")"
            if depth == 0:
                return self.toks[start + 1 : self.i - 1]

    def skip_value(self) -> None:
        """A DEFAULT-like value: a literal, a word (optionally called with arguments) or a group."""
        if self.peek() == "(":
            self.group()
            return
        if self.peek() in ("-", "+"):
            self.take()
        self.take()
        if self.peek() == "(":
            self.group()

    def at_end(self) -> bool:
        return self.i >= len(self.toks) or self.peek() in (",", ";")


def split_commas(toks: list[str]) -> list[list[str]]:
    """Top-level comma-separated parts of a token list."""
    parts: list[list[str]] = [[]]
    depth = 0
    for tok in toks:
        depth += tok == "("
        depth -= tok == ")"
        if tok == "," and depth == 0:
            parts.append([])
        else:
            parts[-1].append(tok)
    return [p for p in parts if p]


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

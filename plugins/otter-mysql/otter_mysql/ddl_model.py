"""An in-memory model of a table that binlog DDL statements are applied to (the schema history's parser).

Only what decoding needs is modelled: the columns in order (type, signedness, charset, ENUM/SET labels,
NULL-ability, generated) and the unique indexes the row key is chosen from. A statement the parser does
not understand raises ``Unfollowable``: the history then marks the table unknown rather than guess.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Protocol

from otter_mysql.ddl_columns import column_def, index_def, key_parts, position_clause
from otter_mysql.ddl_tokens import Cursor, Unfollowable, ident, split_commas, tokens
from otter_mysql.schema import ColumnInfo, TableSchema, choose_key

# the parser's names stay importable from here (history_start, schema_history)
__all__ = [
    "Cursor",
    "Models",
    "TableModel",
    "Unfollowable",
    "add_found_index",
    "column_def",
    "existing",
    "ident",
    "index_def",
    "key_parts",
    "position_clause",
    "split_commas",
    "tokens",
]


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


class Models(Protocol):
    """What ``apply`` needs from the history: models by (schema, table) and schema charsets."""

    def model(self, schema: str, table: str) -> TableModel | None: ...

    def put(self, schema: str, table: str, model: TableModel | None) -> None: ...

    def schema_charset(self, schema: str) -> str | None: ...

    def set_schema_charset(self, schema: str, charset: str | None) -> None: ...

    def drop_schema(self, schema: str) -> None: ...


def existing(models: Models, schema: str, table: str) -> TableModel:
    model = models.model(schema, table)
    if model is None:
        raise Unfollowable(f"table {schema}.{table} is not in the model")
    return model.copy()


def add_found_index(model: TableModel, found: tuple | None) -> None:
    if found is not None:
        name, unique, parts = found
        model.add_index(name, unique, parts)

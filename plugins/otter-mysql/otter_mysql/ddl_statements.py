"""Table DDL statements applied to the schema history's models (``ddl_model.TableModel``).

``apply`` edits a ``Models`` store (the history) for CREATE TABLE [LIKE], DROP TABLE, RENAME TABLE,
ALTER TABLE (ADD/DROP/MODIFY/CHANGE/RENAME COLUMN with FIRST/AFTER, keys, charsets, RENAME TO),
CREATE/DROP INDEX and CREATE/DROP/ALTER DATABASE. Anything else it cannot follow raises ``Unfollowable``.
"""

from __future__ import annotations

from typing import Protocol

from otter_mysql import ddl
from otter_mysql.ddl_model import (
    Cursor,
    TableModel,
    Unfollowable,
    column_def,
    ident,
    index_def,
    key_parts,
    normal_charset,
    position_clause,
    split_commas,
    tokens,
)
from otter_mysql.schema import ColumnInfo

# ALTER TABLE specifications that leave the row image as it is (first word)
_NO_LAYOUT = set(
    (
        "ENGINE AUTO_INCREMENT COMMENT ROW_FORMAT KEY_BLOCK_SIZE ALGORITHM LOCK FORCE "
        "STATS_PERSISTENT STATS_AUTO_RECALC STATS_SAMPLE_PAGES PACK_KEYS CHECKSUM MAX_ROWS MIN_ROWS "
        "AVG_ROW_LENGTH ENCRYPTED ENCRYPTION_KEY_ID PAGE_COMPRESSED PAGE_COMPRESSION_LEVEL "
        "PAGE_CHECKSUM TRANSACTIONAL ORDER ENABLE DISABLE DISCARD IMPORT DELAY_KEY_WRITE "
        "INSERT_METHOD DATA INDEX UNION TABLESPACE STORAGE COALESCE REORGANIZE EXCHANGE ANALYZE "
        "CHECK OPTIMIZE REBUILD REPAIR REMOVE TRUNCATE CONVERT IETF_QUOTES SEQUENCE"
    ).split()
)


class Models(Protocol):
    """What ``apply`` needs from the history: models by (schema, table) and schema charsets."""

    def model(self, schema: str, table: str) -> TableModel | None: ...

    def put(self, schema: str, table: str, model: TableModel | None) -> None: ...

    def schema_charset(self, schema: str) -> str | None: ...

    def set_schema_charset(self, schema: str, charset: str | None) -> None: ...

    def drop_schema(self, schema: str) -> None: ...


def _qname(cur: Cursor, default: str) -> tuple[str, str]:
    first = ident(cur.take())
    if cur.peek() == "." or cur.peek().startswith("."):
        tok = cur.take()
        second = ident(cur.take() if tok == "." else tok[1:])
        return first, second
    if "." in first and not cur.toks[cur.i - 1].startswith("`"):
        schema, _, table = first.partition(".")
        return schema, table
    return default, first


def _charset_option(cur: Cursor) -> str | None:
    """``[DEFAULT] CHARACTER SET|CHARSET [=] x`` or ``[DEFAULT] COLLATE [=] x`` at the cursor, else None."""
    start = cur.i
    cur.accept("DEFAULT")
    if cur.accept("CHARACTER", "SET") or cur.accept("CHARSET"):
        cur.accept("=")
        return normal_charset(cur.take())
    if cur.accept("COLLATE"):
        cur.accept("=")
        return normal_charset(cur.take()).split("_", 1)[0]
    cur.i = start
    return None


def apply(models: Models, text: str, default_schema: str) -> None:
    """Apply one binlog query event's DDL to ``models`` (statements that change no table are ignored)."""
    cur = Cursor(tokens(text), text)
    if cur.accept("CREATE") or cur.accept("ALTER") or cur.accept("DROP"):
        verb = cur.toks[cur.i - 1].upper()
        cur.accept("OR", "REPLACE")
        if cur.word() in ("DATABASE", "SCHEMA"):
            cur.take()
            cur.accept("IF", "NOT", "EXISTS") or cur.accept("IF", "EXISTS")
            schema = (
                ident(cur.take())
                if not cur.at_end() and cur.word() not in ("DEFAULT", "CHARACTER", "CHARSET", "COLLATE")
                else default_schema
            )
            if verb == "DROP":
                models.drop_schema(schema)
                return
            charset = None
            while not cur.at_end():
                charset = _charset_option(cur) or charset
                if charset is None or cur.word() not in ("DEFAULT", "CHARACTER", "CHARSET", "COLLATE"):
                    if not cur.at_end():
                        cur.take()
            if charset is not None or verb == "CREATE":
                models.set_schema_charset(schema, charset)
            return
        if cur.accept("TEMPORARY"):
            _temporary()
        cur.accept("ONLINE") or cur.accept("OFFLINE")
        cur.accept("IGNORE")
        if cur.accept("TABLE") or cur.accept("TABLES"):
            {"CREATE": _create, "ALTER": _alter, "DROP": _drop}[verb](models, cur, default_schema)
            return
        if verb == "CREATE" and (cur.word() in ("UNIQUE", "INDEX", "FULLTEXT", "SPATIAL")):
            _create_index(models, cur, default_schema)
            return
        if verb == "DROP" and cur.accept("INDEX"):
            cur.accept("IF", "EXISTS")
            name = ident(cur.take())
            cur.expect("ON")
            schema, table = _qname(cur, default_schema)
            model = _existing(models, schema, table)
            model.indexes.pop(name, None)
            models.put(schema, table, model)
            return
    if cur.accept("RENAME"):
        cur.accept("TABLE") or cur.accept("TABLES")
        cur.accept("IF", "EXISTS")
        for part in split_commas(cur.toks[cur.i :]):
            sub = Cursor(part, text)
            old = _qname(sub, default_schema)
            sub.accept("WAIT") and sub.take()
            sub.accept("NOWAIT")
            sub.expect("TO")
            new = _qname(sub, default_schema)
            _rename(models, old, new)
        return
    if cur.accept("TRUNCATE"):
        return
    stmt = ddl.parse(text, default_schema)
    if stmt.kind == "table":
        raise Unfollowable("statement not modelled")


def _temporary() -> None:
    raise Unfollowable("temporary tables are not modelled")


def _existing(models: Models, schema: str, table: str) -> TableModel:
    model = models.model(schema, table)
    if model is None:
        raise Unfollowable(f"table {schema}.{table} is not in the model")
    return model.copy()


def _rename(models: Models, old: tuple[str, str], new: tuple[str, str]) -> None:
    model = models.model(*old)
    models.put(*old, None)
    models.put(*new, model.copy(*new) if model is not None else None)


def _drop(models: Models, cur: Cursor, default: str) -> None:
    cur.accept("IF", "EXISTS")
    for part in split_commas(cur.toks[cur.i :]):
        if part[0].upper() in ("RESTRICT", "CASCADE", "WAIT", "NOWAIT"):
            continue
        sub = Cursor([t for t in part if t.upper() not in ("RESTRICT", "CASCADE")], cur.text)
        models.put(*_qname(sub, default), None)


def _create(models: Models, cur: Cursor, default: str) -> None:
    exists_clause = cur.accept("IF", "NOT", "EXISTS")
    schema, table = _qname(cur, default)
    if exists_clause and models.model(schema, table) is not None:
        return
    if cur.accept("LIKE") or (cur.peek() == "(" and cur.word(1) == "LIKE"):
        paren = cur.peek() == "("
        if paren:
            cur.take()
            cur.expect("LIKE")
        source = _existing(models, *_qname(cur, default))
        models.put(schema, table, source.copy(schema, table))
        return
    if cur.peek() != "(":
        raise Unfollowable("CREATE TABLE without a column list (… SELECT) is not modelled")
    items = split_commas(cur.group())
    charset = models.schema_charset(schema)
    rest = cur.toks[cur.i :]
    i = 0
    while i < len(rest):  # table options: the default charset matters for columns that name none
        sub = Cursor(rest[i:], cur.text)
        found = _charset_option(sub)
        if found is not None:
            charset = found
            i += sub.i
            continue
        if rest[i].upper() in ("SELECT", "AS", "IGNORE", "REPLACE") or rest[i] == "(":
            raise Unfollowable("CREATE TABLE … SELECT is not modelled")
        if rest[i].upper() == "PARTITION":
            break
        i += 1
    model = TableModel(schema, table, [], {}, charset)
    for item in items:
        sub = Cursor(item, cur.text)
        if sub.word() in (
            "CONSTRAINT",
            "PRIMARY",
            "UNIQUE",
            "INDEX",
            "KEY",
            "FULLTEXT",
            "SPATIAL",
            "FOREIGN",
            "CHECK",
            "PERIOD",
        ):
            _add_index(model, index_def(sub))
            continue
        name = ident(sub.take())
        info, keys = column_def(sub, name, charset)
        model.columns.append(info)
        for key_name, primary in keys:
            model.add_index(key_name if primary else None, True, [(name, None)])
    models.put(schema, table, model)


def _add_index(model: TableModel, found: tuple | None) -> None:
    if found is not None:
        name, unique, parts = found
        model.add_index(name, unique, parts)


def _create_index(models: Models, cur: Cursor, default: str) -> None:
    unique = cur.accept("UNIQUE")
    cur.accept("FULLTEXT") or cur.accept("SPATIAL")
    cur.expect("INDEX")
    cur.accept("IF", "NOT", "EXISTS")
    name = ident(cur.take())
    if cur.accept("USING"):
        cur.take()
    cur.expect("ON")
    schema, table = _qname(cur, default)
    model = _existing(models, schema, table)
    if unique:
        model.add_index(name, True, key_parts(cur.group()))
    models.put(schema, table, model)


def _alter(models: Models, cur: Cursor, default: str) -> None:
    cur.accept("IF", "EXISTS")
    schema, table = _qname(cur, default)
    if cur.accept("WAIT"):
        cur.take()
    cur.accept("NOWAIT")
    model = _existing(models, schema, table)
    target = (schema, table)
    for spec in split_commas(cur.toks[cur.i :]):
        renamed = _alter_spec(model, Cursor(spec, cur.text), default)
        if renamed is not None:
            target = renamed
    if target != (schema, table):
        models.put(schema, table, None)
        model = model.copy(*target)
    models.put(*target, model)


def _alter_spec(model: TableModel, cur: Cursor, default: str) -> tuple[str, str] | None:
    """Apply one ALTER TABLE specification; returns the new name for RENAME [TO]."""
    w = cur.word()
    if w == "PARTITION":
        return None
    charset = _charset_option(cur)
    if charset is not None:
        model.charset = charset
        return None
    if cur.accept("CONVERT", "TO"):
        cur.accept("CHARACTER", "SET") or cur.accept("CHARSET")
        charset = normal_charset(cur.take())
        model.charset = charset
        model.columns = [_convert(c, charset) for c in model.columns]
        return None
    if cur.accept("ADD"):
        if cur.word() in (
            "PRIMARY",
            "UNIQUE",
            "INDEX",
            "KEY",
            "FULLTEXT",
            "SPATIAL",
            "FOREIGN",
            "CHECK",
            "CONSTRAINT",
            "PERIOD",
        ):
            _add_index(model, index_def(cur))
            return None
        if cur.word() in ("PARTITION", "SYSTEM"):
            if cur.word() == "SYSTEM":
                raise Unfollowable("system versioning is not modelled")
            return None
        cur.accept("COLUMN")
        if_not_exists = cur.accept("IF", "NOT", "EXISTS")
        if cur.peek() == "(":
            for item in split_commas(cur.group()):
                sub = Cursor(item, cur.text)
                _add_column(model, sub, if_not_exists)
            return None
        _add_column(model, cur, if_not_exists)
        return None
    if cur.accept("DROP"):
        if cur.accept("PRIMARY", "KEY"):
            model.indexes.pop("PRIMARY", None)
        elif cur.accept("INDEX") or cur.accept("KEY") or cur.accept("CONSTRAINT") or cur.accept("UNIQUE"):
            cur.accept("KEY") or cur.accept("INDEX")
            cur.accept("IF", "EXISTS")
            model.indexes.pop(ident(cur.take()), None)
        elif cur.word() in ("FOREIGN", "CHECK", "PARTITION"):
            return None
        elif cur.word() == "SYSTEM":
            raise Unfollowable("system versioning is not modelled")
        else:
            cur.accept("COLUMN")
            if_exists = cur.accept("IF", "EXISTS")
            name = ident(cur.take())
            if if_exists and not model.has(name):
                return None
            del model.columns[model.position_of(name)]
            model.drop_from_indexes(name)
        return None
    if cur.accept("MODIFY") or cur.accept("CHANGE"):
        change = cur.toks[cur.i - 1].upper() == "CHANGE"
        cur.accept("COLUMN")
        if_exists = cur.accept("IF", "EXISTS")
        old = ident(cur.take())
        new = ident(cur.take()) if change else old
        if if_exists and not model.has(old):
            return None
        at = model.position_of(old)
        previous = model.columns.pop(at)
        info, keys = column_def(cur, new, model.charset)
        model.place(info, position_clause(cur), at)
        _expect_end(cur)
        if previous.name != new:
            model.rename_in_indexes(previous.name, new)
        for key_name, primary in keys:
            model.add_index(key_name if primary else None, True, [(new, None)])
        return None
    if cur.accept("RENAME"):
        if cur.accept("COLUMN"):
            cur.accept("IF", "EXISTS")
            old = ident(cur.take())
            cur.expect("TO")
            new = ident(cur.take())
            at = model.position_of(old)
            model.columns[at] = _renamed(model.columns[at], new)
            model.rename_in_indexes(old, new)
            return None
        if cur.accept("INDEX") or cur.accept("KEY"):
            old = ident(cur.take())
            cur.expect("TO")
            new = ident(cur.take())
            if old in model.indexes:
                model.indexes[new] = model.indexes.pop(old)
            return None
        cur.accept("TO") or cur.accept("AS")
        return _qname(cur, model.schema)
    if cur.accept("ALTER"):
        if cur.accept("INDEX") or cur.accept("KEY"):
            return None
        cur.accept("COLUMN")
        cur.accept("IF", "EXISTS")
        model.position_of(ident(cur.take()))
        return None
    if w in _NO_LAYOUT or cur.accept("DEFAULT"):
        return None
    raise Unfollowable(f"ALTER TABLE specification {' '.join(cur.toks[cur.i : cur.i + 3])!r} is not modelled")


def _add_column(model: TableModel, cur: Cursor, if_not_exists: bool) -> None:
    name = ident(cur.take())
    if if_not_exists and model.has(name):
        return
    info, keys = column_def(cur, name, model.charset)
    model.place(info, position_clause(cur))
    _expect_end(cur)
    for key_name, primary in keys:
        model.add_index(key_name if primary else None, True, [(name, None)])


def _expect_end(cur: Cursor) -> None:
    if not cur.at_end():
        raise Unfollowable(f"unexpected {cur.peek()!r} after a column definition")


def _renamed(info: ColumnInfo, name: str) -> ColumnInfo:
    from dataclasses import replace

    return replace(info, name=name)


def _convert(info: ColumnInfo, charset: str) -> ColumnInfo:
    from dataclasses import replace

    if info.charset in (None, "binary"):
        return info
    if info.data_type in ("tinytext", "text", "mediumtext") and charset != info.charset:
        raise Unfollowable("CONVERT TO CHARACTER SET may widen TEXT columns; not modelled")
    return replace(info, charset=charset)

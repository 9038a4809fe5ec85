"""Table DDL statements applied to the schema history's models (``ddl_model.TableModel``).

``apply`` edits a ``Models`` store (the history) for CREATE TABLE [LIKE], DROP TABLE, RENAME TABLE,
ALTER TABLE (ADD/DROP/MODIFY/CHANGE/RENAME COLUMN with FIRST/AFTER, keys, charsets, RENAME TO),
CREATE/DROP INDEX and CREATE/DROP/ALTER DATABASE (ALTER TABLE itself in ``ddl_alter``). Anything else it cannot follow raises ``Unfollowable``.
"""

from __future__ import annotations

from otter_mysql import ddl
from otter_mysql.ddl_alter import alter_table
from otter_mysql.ddl_columns import KEY_WORDS, column_def, index_def, key_parts
from otter_mysql.ddl_model import Models, TableModel, add_found_index, existing
from otter_mysql.ddl_tokens import (
    Cursor,
    Unfollowable,
    charset_option,
    ident,
    qualified_name,
    split_commas,
    tokens,
)

__all__ = ["Models", "apply"]


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
                charset = charset_option(cur) or charset
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
            {"CREATE": _create, "ALTER": alter_table, "DROP": _drop}[verb](models, cur, default_schema)
            return
        if verb == "CREATE" and (cur.word() in ("UNIQUE", "INDEX", "FULLTEXT", "SPATIAL")):
            _create_index(models, cur, default_schema)
            return
        if verb == "DROP" and cur.accept("INDEX"):
            cur.accept("IF", "EXISTS")
            name = ident(cur.take())
            cur.expect("ON")
            schema, table = qualified_name(cur, default_schema)
            model = existing(models, schema, table)
            model.indexes.pop(name, None)
            models.put(schema, table, model)
            return
    if cur.accept("RENAME"):
        cur.accept("TABLE") or cur.accept("TABLES")
        cur.accept("IF", "EXISTS")
        for part in split_commas(cur.toks[cur.i :]):
            sub = Cursor(part, text)
            old = qualified_name(sub, default_schema)
            sub.accept("WAIT") and sub.take()
            sub.accept("NOWAIT")
            sub.expect("TO")
            new = qualified_name(sub, default_schema)
            _rename(models, old, new)
        return
    if cur.accept("TRUNCATE"):
        return
    stmt = ddl.parse(text, default_schema)
    if stmt.kind == "table":
        raise Unfollowable("statement not modelled")


def _temporary() -> None:
    raise Unfollowable("temporary tables are not modelled")


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
        models.put(*qualified_name(sub, default), None)


def _create(models: Models, cur: Cursor, default: str) -> None:
    exists_clause = cur.accept("IF", "NOT", "EXISTS")
    schema, table = qualified_name(cur, default)
    if exists_clause and models.model(schema, table) is not None:
        return
    if cur.accept("LIKE") or (cur.peek() == "(" and cur.word(1) == "LIKE"):
        paren = cur.peek() == "("
        if paren:
            cur.take()
            cur.expect("LIKE")
        source = existing(models, *qualified_name(cur, default))
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
        found = charset_option(sub)
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
        if sub.word() in KEY_WORDS:
            add_found_index(model, index_def(sub))
            continue
        name = ident(sub.take())
        info, keys = column_def(sub, name, charset)
        model.columns.append(info)
        for key_name, primary in keys:
            model.add_index(key_name if primary else None, True, [(name, None)])
    models.put(schema, table, model)


def _create_index(models: Models, cur: Cursor, default: str) -> None:
    unique = cur.accept("UNIQUE")
    cur.accept("FULLTEXT") or cur.accept("SPATIAL")
    cur.expect("INDEX")
    cur.accept("IF", "NOT", "EXISTS")
    name = ident(cur.take())
    if cur.accept("USING"):
        cur.take()
    cur.expect("ON")
    schema, table = qualified_name(cur, default)
    model = existing(models, schema, table)
    if unique:
        model.add_index(name, True, key_parts(cur.group()))
    models.put(schema, table, model)

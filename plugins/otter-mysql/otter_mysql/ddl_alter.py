"""ALTER TABLE applied to a schema history's model (``ddl_statements.apply`` calls ``alter_table``)."""

from __future__ import annotations

from otter_mysql.ddl_columns import KEY_WORDS, column_def, index_def, position_clause
from otter_mysql.ddl_model import Models, TableModel, add_found_index, existing
from otter_mysql.ddl_tokens import (
    Cursor,
    Unfollowable,
    charset_option,
    ident,
    normal_charset,
    qualified_name,
    split_commas,
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


def alter_table(models: Models, cur: Cursor, default: str) -> None:
    cur.accept("IF", "EXISTS")
    schema, table = qualified_name(cur, default)
    if cur.accept("WAIT"):
        cur.take()
    cur.accept("NOWAIT")
    model = existing(models, schema, table)
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
    charset = charset_option(cur)
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
        if cur.word() in KEY_WORDS:
            add_found_index(model, index_def(cur))
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
        return qualified_name(cur, model.schema)
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

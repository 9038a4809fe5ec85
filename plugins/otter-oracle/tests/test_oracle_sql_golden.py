"""Golden tests of every statement kind the Oracle loader sends, with quoted identifiers."""

import pytest

from otter_oracle import dialect
from otter_oracle.dialect import Naming

UP = Naming()


def test_merge_updates_every_non_key_column_by_default():
    assert dialect.merge_sql(UP, "shop", "orders", ["id", "amount", "note"], ["id"]) == (
        'MERGE INTO "SHOP"."ORDERS" t USING (SELECT :1 "ID", :2 "AMOUNT", :3 "NOTE" FROM DUAL) s '
        'ON (t."ID" = s."ID") WHEN MATCHED THEN UPDATE SET t."AMOUNT" = s."AMOUNT", t."NOTE" = s."NOTE" '
        'WHEN NOT MATCHED THEN INSERT ("ID", "AMOUNT", "NOTE") VALUES (s."ID", s."AMOUNT", s."NOTE")'
    )


def test_merge_in_field_mode_updates_only_changed_columns_but_inserts_all():
    assert dialect.merge_sql(UP, "shop", "orders", ["id", "amount", "note"], ["id"], ["note"]) == (
        'MERGE INTO "SHOP"."ORDERS" t USING (SELECT :1 "ID", :2 "AMOUNT", :3 "NOTE" FROM DUAL) s '
        'ON (t."ID" = s."ID") WHEN MATCHED THEN UPDATE SET t."NOTE" = s."NOTE" '
        'WHEN NOT MATCHED THEN INSERT ("ID", "AMOUNT", "NOTE") VALUES (s."ID", s."AMOUNT", s."NOTE")'
    )


def test_merge_of_a_key_only_table_has_no_update_clause():
    assert dialect.merge_sql(UP, "shop", "tags", ["item", "tag"], ["item", "tag"]) == (
        'MERGE INTO "SHOP"."TAGS" t USING (SELECT :1 "ITEM", :2 "TAG" FROM DUAL) s '
        'ON (t."ITEM" = s."ITEM" AND t."TAG" = s."TAG") '
        'WHEN NOT MATCHED THEN INSERT ("ITEM", "TAG") VALUES (s."ITEM", s."TAG")'
    )


def test_merge_with_a_composite_key_and_preserved_case():
    sql = dialect.merge_sql(
        Naming("preserve"), "Shop", "Line", ["orderId", "line", "qty"], ["orderId", "line"]
    )
    assert sql == (
        'MERGE INTO "Shop"."Line" t USING (SELECT :1 "orderId", :2 "line", :3 "qty" FROM DUAL) s '
        'ON (t."orderId" = s."orderId" AND t."line" = s."line") WHEN MATCHED THEN UPDATE SET t."qty" = s."qty" '
        'WHEN NOT MATCHED THEN INSERT ("orderId", "line", "qty") VALUES (s."orderId", s."line", s."qty")'
    )


def test_identifiers_with_quotes_reserved_words_and_spaces_are_quoted():
    sql = dialect.delete_sql(UP, 'we"ird', "select", ["order id"])
    assert sql == 'DELETE FROM "WE""IRD"."SELECT" WHERE "ORDER ID" = :1'


def test_delete_by_composite_key():
    assert dialect.delete_sql(UP, "shop", "line", ["order_id", "line"]) == (
        'DELETE FROM "SHOP"."LINE" WHERE "ORDER_ID" = :1 AND "LINE" = :2'
    )


def test_merge_without_keys_is_refused():
    with pytest.raises(ValueError, match="needs key columns"):
        dialect.merge_sql(UP, "shop", "log", ["a"], [])


def test_an_identifier_too_long_is_refused():
    with pytest.raises(ValueError, match="cannot be an Oracle identifier"):
        UP.ident("x" * 129)


def test_mark_statements():
    assert dialect.mark_sql() == (
        'MERGE INTO "RETL"."RETL_MARK" t USING (SELECT :1 "ID", :2 "CHANNEL_ID", :3 "CHANNEL_INFO" FROM DUAL) s '
        'ON (t."ID" = s."ID") WHEN MATCHED THEN UPDATE SET t."CHANNEL_ID" = s."CHANNEL_ID", '
        't."CHANNEL_INFO" = s."CHANNEL_INFO", t."SEQ" = t."SEQ" + 1, t."GMT_MODIFIED" = SYSTIMESTAMP '
        'WHEN NOT MATCHED THEN INSERT ("ID", "CHANNEL_ID", "CHANNEL_INFO", "SEQ", "GMT_MODIFIED") '
        'VALUES (s."ID", s."CHANNEL_ID", s."CHANNEL_INFO", 1, SYSTIMESTAMP)'
    )
    assert dialect.mark_table_ddl("OTTER") == (
        'CREATE TABLE "OTTER"."RETL_MARK" ("ID" NUMBER(10) NOT NULL PRIMARY KEY, "CHANNEL_ID" VARCHAR2(64 CHAR) '
        'NOT NULL, "CHANNEL_INFO" VARCHAR2(128 CHAR), "SEQ" NUMBER(19) DEFAULT 0 NOT NULL, '
        '"GMT_MODIFIED" TIMESTAMP(6) NOT NULL)'
    )


def test_mark_ids_match_the_mysql_loader():
    assert dialect.mark_id("shop", "a-to-b", 3) == 3 + 64 * (
        __import__("zlib").crc32(b"shop/a-to-b") % 10_000_000
    )
    assert len({dialect.mark_id("shop", "a-to-b", s) for s in range(4)}) == 4

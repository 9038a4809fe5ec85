"""Transform: target names, column renames/include/exclude, column groups."""

from otter_core.engine.transform import transform_event
from otter_core.model import ColumnGroup, ColumnPair, DataMedia, DataMediaPair, EventData, EventType


def update(**updated_values):
    return EventData(
        "ocndb",
        "member",
        EventType.UPDATE,
        keys={"member_id": 7},
        columns={"name": "n", "city": "c", "zip": "z"},
        updated=frozenset(updated_values),
    )


def test_schema_and_table_rename():
    pair = DataMediaPair(DataMedia("ocndb", "member"), DataMedia("crmg", "cbu_member"))
    out = transform_event(pair, update(name=1))
    assert (out.schema, out.table) == ("crmg", "cbu_member")


def test_wildcard_target_keeps_source_names():
    pair = DataMediaPair(DataMedia("ocndb", "*"), DataMedia("*", "*"))
    assert transform_event(pair, update()).full_name == "ocndb.member"


def test_column_rename_and_include_list():
    pair = DataMediaPair(
        DataMedia("ocndb", "member"),
        DataMedia("crmg", "m"),
        column_pairs=(ColumnPair("member_id", "vaccount_id"), ColumnPair("name", "name")),
    )
    out = transform_event(pair, update(name=1, city=1))
    assert out.keys == {"vaccount_id": 7} and out.columns == {"name": "n"} and out.updated == {"name"}


def test_exclude_list_drops_only_the_listed_columns():
    pair = DataMediaPair(
        DataMedia("ocndb", "member"),
        DataMedia("crmg", "m"),
        column_pairs=(ColumnPair("zip", "zip"),),
        column_mode="exclude",
    )
    assert set(transform_event(pair, update()).columns) == {"name", "city"}


def test_column_group_travels_whole_when_one_member_changed():
    pair = DataMediaPair(
        DataMedia("ocndb", "member"),
        DataMedia("ocndb", "member"),
        column_groups=(ColumnGroup(("city", "zip")),),
    )
    assert transform_event(pair, update(city=1)).updated == {"city", "zip"}
    assert transform_event(pair, update(name=1)).updated == {"name"}


def test_one_source_column_copied_into_two_target_columns():
    pair = DataMediaPair(
        DataMedia("ocndb", "member"),
        DataMedia("crmg", "m"),
        column_pairs=(
            ColumnPair("member_id", "member_id"),
            ColumnPair("name", "name"),
            ColumnPair("name", "display_name"),
        ),
    )
    assert transform_event(pair, update(name=1)).columns == {"name": "n", "display_name": "n"}

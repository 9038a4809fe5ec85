"""A load's statement parts are made once per statement shape (``load_plan._group_for``) and made again
when the target table is read again, against a real MariaDB."""

from __future__ import annotations

import pytest
from loader_support import DB, dele, ins, make_loader, upd

from otter_core.testing.mariadb import MariaDBServer
from otter_mysql import load_plan

pytestmark = pytest.mark.usefixtures("clean_databases")


def test_statement_parts_are_made_once_per_shape_until_the_table_is_read_again(
    mariadb_target: MariaDBServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    mariadb_target.execute(
        f"CREATE DATABASE {DB}", f"CREATE TABLE {DB}.t (id INT PRIMARY KEY, k INT, c VARCHAR(20))"
    )
    made: list[str] = []
    original = load_plan.StatementPlanning._make_group

    def counted(self, conn, key, ev):  # type: ignore[no-untyped-def]
        made.append(ev.table)
        return original(self, conn, key, ev)

    monkeypatch.setattr(load_plan.StatementPlanning, "_make_group", counted)
    loader = make_loader(mariadb_target, pool=2)
    try:
        batch = [dele("t", 9), ins("t", 1, k=1, c="a"), upd("t", 1, {"k"}, k=2, c="a")]
        loader.load(batch[:2], 0)
        loader.load(batch[1:], 1)
        assert len(made) == 4  # delete, upsert, then the join and its fallback upsert (cached)
        loader.load([dele("t", 8), ins("t", 2, k=2, c="b"), upd("t", 1, {"k"}, k=3, c="a")], 0)
        assert len(made) == 4  # the same shapes, on either slot: nothing made again
        mariadb_target.execute(f"ALTER TABLE {DB}.t ADD COLUMN g INT AS (k * 2) VIRTUAL")
        loader._schemas.invalidate(DB, "t")  # as an unknown column or a DDL event does
        loader.load([ins("t", 3, k=3, c="c")], 0)  # a shape seen before: made again from the new table
        assert len(made) == 5
        got = mariadb_target.execute(f"SELECT id, k, c, g FROM {DB}.t ORDER BY id")
        assert got == [(1, 3, "a", 6), (2, 2, "b", 4), (3, 3, "c", 6)]
    finally:
        loader.close()

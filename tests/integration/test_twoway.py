"""Two-way channels: loopback marks (retl.retl_mark), DDL echo, cascades through other channels, convergence."""

import random
import threading
import time

import pytest
import yaml

from otter_core.cli import main as otter_run
from otter_core.testing.harness import running
from otter_core.testing.twoway import wait_quiet as shared_wait_quiet

pytestmark = pytest.mark.usefixtures("clean_databases")
TABLE_DDL = "CREATE TABLE shop.t (id INT PRIMARY KEY, status VARCHAR(20), amount INT)"


def start_of(server):
    file, pos = server.binlog_position()
    return {"file": file, "pos": pos}


def pipeline(name, source, target, start, pairs, **parameters):
    return {
        "name": name,
        "source": source,
        "target": target,
        "start": start,
        "pairs": pairs,
        "parameters": {"batch_timeout_ms": 50, "retry_backoff_ms": 100, **parameters},
    }


def twoway_yaml(a, b, pairs=("shop.t",), extra_channels=(), home=False):
    doc = {
        "sources": {"a": a.source_config("a"), "b": b.source_config("b")},
        "channels": [
            {
                "name": "ab",
                "pipelines": [
                    {
                        **pipeline("a-to-b", "a", "b", start_of(a), list(pairs)),
                        **({"home": True} if home else {}),
                    },
                    pipeline("b-to-a", "b", "a", start_of(b), list(pairs)),
                ],
            },
            *extra_channels,
        ],
    }
    return yaml.safe_dump(doc, sort_keys=False)


def make_tables(*servers, ddl=TABLE_DDL):
    for server in servers:
        server.execute("CREATE DATABASE IF NOT EXISTS shop", ddl)


def rows(server, sql="SELECT * FROM shop.t ORDER BY id"):
    return server.execute(sql)


def wait_for(predicate, runner, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if runner.failures():
            raise AssertionError(f"pipeline failed: {runner.failures()[0][1]}")
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} not reached after {timeout}s: {runner.status()}")


def wait_quiet(runner, *servers, **kwargs):
    """The shared wait (binlogs still: no ping-pong) that also requires every pipeline to have acked its
    source's binlog end: a retry's back-off can leave both binlogs still while changes are unapplied."""
    kwargs.setdefault(
        "sources", dict(zip("abc", servers))
    )  # the source names twoway_yaml and the cascade use
    return shared_wait_quiet(runner, *servers, **kwargs)


def test_a_write_arrives_on_the_other_side_and_does_not_come_back(mariadb_source, mariadb_target, tmp_path):
    a, b = mariadb_source, mariadb_target
    make_tables(a, b)
    with running(twoway_yaml(a, b), str(tmp_path / "state")) as runner:
        a.execute("INSERT INTO shop.t VALUES (1, 'from-a', 10)")
        wait_for(lambda: rows(b) == [(1, "from-a", 10)], runner, what="row on b")
        wait_quiet(runner, a, b, quiet=1.0)
        # b-to-a dropped the transaction its channel's loader wrote on b: it loaded nothing into a
        assert runner.pipelines[1].stats.rows_loaded == 0
        assert a.execute("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'retl'") == [
            (0,)
        ]
        b.execute(
            "UPDATE shop.t SET status = 'from-b' WHERE id = 1", "INSERT INTO shop.t VALUES (2, 'b', 20)"
        )
        wait_for(lambda: rows(a) == [(1, "from-b", 10), (2, "b", 20)], runner, what="rows on a")
        a.execute("DELETE FROM shop.t WHERE id = 2")
        wait_for(lambda: rows(b) == [(1, "from-b", 10)], runner, what="delete on b")
        wait_quiet(runner, a, b)
        marks = a.execute("SELECT channel_id, channel_info FROM retl.retl_mark")
    assert rows(a) == rows(b) == [(1, "from-b", 10)]
    assert marks and all(m == ("ab", "b-to-a") for m in marks)


def test_ddl_applied_by_the_channel_does_not_echo(mariadb_source, mariadb_target, tmp_path):
    a, b = mariadb_source, mariadb_target
    make_tables(a, b)
    since = {a: start_of(a), b: start_of(b)}
    with running(twoway_yaml(a, b), str(tmp_path / "state")) as runner:
        a.execute("ALTER TABLE shop.t ADD COLUMN note VARCHAR(10)")
        a.execute("INSERT INTO shop.t VALUES (1, 'x', 1, 'n')")
        wait_for(lambda: rows(b) == [(1, "x", 1, "n")], runner, what="ddl and row on b")
        b.execute("ALTER TABLE shop.t ADD COLUMN note2 INT")
        wait_for(lambda: len(a.execute("SHOW COLUMNS FROM shop.t")) == 5, runner, what="ddl on a")
        wait_quiet(runner, a, b)
    for server in (a, b):
        events = server.execute(
            f"SHOW BINLOG EVENTS IN '{since[server]['file']}' FROM {since[server]['pos']}"
        )
        alters = [e for e in events if "ALTER TABLE" in str(e[-1]).upper()]
        assert len(alters) == 2  # its user's ALTER and the other side's, applied once
        # the loader's DDL record for the other side's ALTER, then its GTID note: no echo was applied (and refused)
        assert len([e for e in events if e[2] == "Table_map" and "(retl.retl_ddl)" in str(e[-1])]) == 2
        assert server.execute("SELECT COUNT(*) FROM retl.retl_ddl") == [(1,)]


def test_marks_of_another_channel_pass_so_cascades_work(mariadb_source, mariadb_target, tmp_path):
    """Channel ab (a<->b) applies a's row on b with its mark; channel copy (b -> a, shop.t -> shop.t_copy)
    must still take it (a cascade a -> b -> a.t_copy), while ab's own b->a direction drops it."""
    a, b = mariadb_source, mariadb_target
    make_tables(a, b)
    a.execute("CREATE TABLE shop.t_copy LIKE shop.t")
    copy = {
        "name": "copy",
        "pipelines": [
            pipeline("b-to-a-copy", "b", "a", start_of(b), [{"source": "shop.t", "target": "shop.t_copy"}])
        ],
    }
    with running(twoway_yaml(a, b, extra_channels=[copy]), str(tmp_path / "state")) as runner:
        a.execute("INSERT INTO shop.t VALUES (1, 'from-a', 10)")
        wait_for(lambda: rows(a, "SELECT * FROM shop.t_copy") == [(1, "from-a", 10)], runner, what="cascade")
        wait_quiet(runner, a, b)
    assert rows(a) == rows(b) == [(1, "from-a", 10)]


def test_a_sync_mark_of_an_external_tool_is_dropped(mariadb_source, mariadb_target, tmp_path):
    a, b = mariadb_source, mariadb_target
    make_tables(a, b)
    otter_run_init(a, b, tmp_path)
    with running(twoway_yaml(a, b), str(tmp_path / "state")) as runner:
        conn = a.connect(autocommit=False)
        with conn.cursor() as cur:
            cur.execute("INSERT INTO retl.retl_mark VALUES (999, 'other-tool', 'drc_SYNC', 1, NOW(6))")
            cur.execute("INSERT INTO shop.t VALUES (1, 'by-tool', 1)")
        conn.commit()
        conn.close()
        a.execute("INSERT INTO shop.t VALUES (2, 'user', 2)")
        wait_for(lambda: rows(b) == [(2, "user", 2)], runner, what="user row on b")
        wait_quiet(runner, a, b)
    assert rows(b) == [(2, "user", 2)]


def otter_run_init(a, b, tmp_path):
    path = tmp_path / "twoway.yaml"
    path.write_text(twoway_yaml(a, b))
    assert otter_run(["init-db", str(path)]) == 0
    for server in (a, b):
        assert {r[0] for r in server.execute("SHOW TABLES FROM retl")} == {
            "retl_mark",
            "retl_ddl",
            "retl_conflict",
            "retl_fence",
        }


def test_init_db_without_the_grant_names_it(mariadb_source, tmp_path, capsys):
    mariadb_source.root_execute(
        "CREATE USER IF NOT EXISTS 'weak'@'%' IDENTIFIED BY 'weak'", "GRANT SELECT ON *.* TO 'weak'@'%'"
    )
    try:
        config = {**mariadb_source.source_config("a"), "user": "weak", "password": "weak"}
        path = tmp_path / "weak.yaml"
        path.write_text(
            yaml.safe_dump(
                {
                    "sources": {"a": config},
                    "channels": [
                        {"name": "c", "pipelines": [pipeline("p", "a", "a", "current", ["shop.t"])]}
                    ],
                }
            )
        )
        assert otter_run(["init-db", str(path)]) == 2
        err = capsys.readouterr().err
        assert "source a" in err and "GRANT CREATE" in err and "retl" in err
    finally:
        mariadb_source.root_execute("DROP USER 'weak'@'%'")


def _workload(server, ids, seconds, seed):
    rnd = random.Random(seed)
    conn = server.connect()
    deadline = time.monotonic() + seconds
    changed = 0
    with conn.cursor() as cur:
        while time.monotonic() < deadline:
            key = rnd.choice(ids)
            op = rnd.random()
            if op < 0.45:
                cur.execute(
                    "INSERT INTO shop.t VALUES (%s, %s, %s) ON DUPLICATE KEY UPDATE amount = amount + 1",
                    (key, f"s{seed}", rnd.randint(0, 999)),
                )
            elif op < 0.8:
                cur.execute(
                    "UPDATE shop.t SET status = %s, amount = %s WHERE id = %s",
                    (f"u{seed}", rnd.randint(0, 999), key),
                )
            else:
                cur.execute("DELETE FROM shop.t WHERE id = %s", (key,))
            changed += cur.rowcount > 0
    conn.close()
    return changed


def test_concurrent_writes_on_both_sides_converge_disjoint_keys(mariadb_source, mariadb_target, tmp_path):
    """Random inserts/updates/deletes on both sides for 8 s, each side on its own key range (home-wins
    conflict handling for overlapping keys is not built yet), then quiet: every row equal, binlogs still."""
    a, b = mariadb_source, mariadb_target
    make_tables(a, b)
    with running(twoway_yaml(a, b), str(tmp_path / "state")) as runner:
        changed = {}
        writers = [
            threading.Thread(target=lambda s=s, k=k, ids=ids: changed.__setitem__(k, _workload(s, ids, 8, k)))
            for s, k, ids in ((a, 1, list(range(1, 301))), (b, 2, list(range(301, 601))))
        ]
        for w in writers:
            w.start()
        for w in writers:
            w.join()
        last_write = time.monotonic()
        wait_for(lambda: rows(a) == rows(b), runner, timeout=60, what="convergence")
        converged = time.monotonic() - last_write
        wait_quiet(runner, a, b)
        loaded = [r.stats.rows_loaded for r in runner.pipelines]
        count = len(rows(a))
    print(
        f"converged {converged:.2f}s after the last write; rows changed a={changed[1]} b={changed[2]}, "
        f"loaded a-to-b={loaded[0]} b-to-a={loaded[1]}"
    )
    assert count > 50 and rows(a) == rows(b)
    # nothing echoed: each direction loaded at most the rows its own side changed (merging only lowers it)
    assert 0 < loaded[0] <= changed[1] and 0 < loaded[1] <= changed[2]


def test_overlapping_writes_on_both_sides_converge_home_wins(mariadb_source, mariadb_target, tmp_path):
    """Both sides write the same 200 keys at random for 8 s; a is home (a-to-b has ``home: true``): the
    far side's changes applied on a go back once as a has them, so both sides end equal, with no ping-pong."""
    a, b = mariadb_source, mariadb_target
    make_tables(a, b)
    with running(twoway_yaml(a, b, home=True), str(tmp_path / "state")) as runner:
        changed = {}
        writers = [
            threading.Thread(
                target=lambda s=s, k=k: changed.__setitem__(k, _workload(s, list(range(1, 201)), 8, k))
            )
            for s, k in ((a, 1), (b, 2))
        ]
        for w in writers:
            w.start()
        for w in writers:
            w.join()
        settled = wait_quiet(runner, a, b)  # seconds after the last write until both binlogs stood still
        loaded = [r.stats.rows_loaded for r in runner.pipelines]
        rows_a, rows_b = rows(a), rows(b)
    print(
        f"home wins: binlogs still {settled:.2f}s after the last write; rows changed a={changed[1]} b={changed[2]}, "
        f"loaded a-to-b={loaded[0]} b-to-a={loaded[1]}, {len(rows_a)} rows"
    )
    assert len(rows_a) > 20 and rows_a == rows_b
    # b-to-a echoes nothing; a-to-b sends a's own changes plus each b change once more (the remedy)
    assert loaded[1] <= changed[2] and loaded[0] <= changed[1] + changed[2]


@pytest.fixture(scope="module")
def third_server(tmp_path_factory):
    from otter_core.testing.mariadb import MariaDBServer

    server = MariaDBServer(tmp_path_factory.mktemp("mariadb-c"), server_id=301).start()
    yield server
    server.destroy()


@pytest.mark.parametrize(
    "ab_pair, bc_pair",
    [
        ("shop.t", "shop.t"),
        ({"source": "shop.t", "conflict": "home_wins"}, {"source": "shop.t", "conflict": "source_wins"}),
    ],
    ids=["no-policy", "home_wins-then-source_wins"],
)
def test_cascade_a_b_two_way_then_b_to_c_carries_changes_of_both_sides(
    mariadb_source, mariadb_target, third_server, tmp_path, ab_pair, bc_pair
):
    a, b, c = mariadb_source, mariadb_target, third_server
    c.execute("DROP DATABASE IF EXISTS shop", "DROP DATABASE IF EXISTS retl")
    make_tables(a, b, c)
    b_to_c = {"name": "bc", "pipelines": [pipeline("b-to-c", "b", "c", start_of(b), [bc_pair])]}
    doc = yaml.safe_load(twoway_yaml(a, b, pairs=(ab_pair,), extra_channels=[b_to_c], home=True))
    doc["sources"]["c"] = c.source_config("c")
    with running(yaml.safe_dump(doc, sort_keys=False), str(tmp_path / "state")) as runner:
        a.execute("INSERT INTO shop.t VALUES (1, 'from-a', 1), (2, 'from-a', 2)")
        # a's rows reach c through b: b-to-c passes transactions marked by channel ab
        wait_for(lambda: rows(c) == [(1, "from-a", 1), (2, "from-a", 2)], runner, what="a's rows on c")
        b.execute("INSERT INTO shop.t VALUES (3, 'from-b', 3)", "UPDATE shop.t SET amount = 20 WHERE id = 2")
        a.execute("DELETE FROM shop.t WHERE id = 1")
        wait_for(
            lambda: rows(a) == rows(b) == rows(c) == [(2, "from-a", 20), (3, "from-b", 3)],
            runner,
            what="a, b and c equal",
        )
        wait_quiet(runner, a, b, c, quiet=1.0)
    assert rows(c) == rows(a) == rows(b)
    if bc_pair != "shop.t":  # every change met the row it expected: nothing logged as a conflict
        assert all(
            server.execute("SELECT COUNT(*) FROM retl.retl_conflict") == [(0,)] for server in (a, b, c)
        )

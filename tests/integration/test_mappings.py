"""DataMediaPair mappings end to end against real MariaDB: renames, column lists, n:1 sharding, 1:n,
push_weight, column groups and row filters, each through the whole engine with every row compared."""

import random
import threading
import time

import pytest
import yaml

from otter_core.testing.compare import rows_of
from otter_core.testing.fixtures import drop_user_schemas
from otter_core.testing.harness import pipeline_yaml, running, wait_caught_up
from otter_core.testing.mariadb import MariaDBServer

pytestmark = pytest.mark.usefixtures("clean_databases")


@pytest.fixture(scope="module")
def mariadb_target2(tmp_path_factory):
    """A second target server, for a pair with ``target_source`` (1:n across servers)."""
    server = MariaDBServer(tmp_path_factory.mktemp("mariadb-target2"), server_id=191)
    server.start()
    yield server
    server.destroy()


@pytest.fixture
def target2(mariadb_target2):
    drop_user_schemas(mariadb_target2)
    return mariadb_target2


def start_of(server):
    file, pos = server.binlog_position()
    return {"file": file, "pos": pos}


def sync(source, target, pairs, work, state_dir, **parameters):
    """Run a pipeline from the source's current position, do ``work()`` on the source, wait until caught up."""
    text = pipeline_yaml(source, target, pairs, start=start_of(source), **parameters)
    with running(text, str(state_dir)) as runner:
        work()
        wait_caught_up(runner, source)


# ------------------------------------------------------------------------------------------ renames

MEMBER = "CREATE TABLE ocndb.member (member_id INT PRIMARY KEY, name VARCHAR(40), email VARCHAR(80))"


def member_work(source):
    def work():
        source.execute(
            "INSERT INTO ocndb.member VALUES (1, 'ann', 'ann@x.org'), (2, 'bob', 'bob@x.org'), "
            "(3, 'cy', 'cy@x.org'), (4, 'di', 'di@x.org')",
            "UPDATE ocndb.member SET name = 'ann b' WHERE member_id = 1",
            "UPDATE ocndb.member SET email = 'bob@y.org' WHERE member_id = 2",
            "UPDATE ocndb.member SET member_id = 30 WHERE member_id = 3",
            "DELETE FROM ocndb.member WHERE member_id = 4",
        )

    return work


def test_schema_and_table_rename(mariadb_source, mariadb_target, tmp_path):
    mariadb_source.execute("CREATE DATABASE ocndb", MEMBER)
    mariadb_target.execute("CREATE DATABASE crmg", MEMBER.replace("ocndb.member", "crmg.cbu_member"))
    sync(
        mariadb_source,
        mariadb_target,
        [{"source": "ocndb.member", "target": "crmg.cbu_member"}],
        member_work(mariadb_source),
        tmp_path,
    )
    assert rows_of(mariadb_target, "crmg.cbu_member") == rows_of(mariadb_source, "ocndb.member")
    assert [r[0] for r in rows_of(mariadb_target, "crmg.cbu_member")] == [1, 2, 30]


def test_column_rename_with_a_column_mapping(mariadb_source, mariadb_target, tmp_path):
    mariadb_source.execute("CREATE DATABASE ocndb", MEMBER)
    mariadb_target.execute(
        "CREATE DATABASE crmg", "CREATE TABLE crmg.cbu_member (vaccount_id INT PRIMARY KEY, name VARCHAR(40))"
    )
    pair = {
        "source": "ocndb.member",
        "target": "crmg.cbu_member",
        "columns": {"member_id": "vaccount_id", "name": "name"},
    }
    # the work includes an update of `email` alone: a column the mapping leaves out
    sync(mariadb_source, mariadb_target, [pair], member_work(mariadb_source), tmp_path)
    assert (
        mariadb_target.execute("SELECT vaccount_id, name FROM crmg.cbu_member ORDER BY vaccount_id")
        == mariadb_source.execute("SELECT member_id, name FROM ocndb.member ORDER BY member_id")
        == [(1, "ann b"), (2, "bob"), (30, "cy")]
    )


def test_include_list_carries_only_the_listed_columns(mariadb_source, mariadb_target, tmp_path):
    mariadb_source.execute("CREATE DATABASE ocndb", MEMBER)
    # the target has `email` too: if otter carried it, the default would be overwritten
    mariadb_target.execute(
        "CREATE DATABASE ocndb",
        "CREATE TABLE ocndb.member (member_id INT PRIMARY KEY, "
        "name VARCHAR(40), email VARCHAR(80) DEFAULT 'not synced')",
    )
    pair = {"source": "ocndb.member", "columns": ["member_id", "name"]}
    sync(mariadb_source, mariadb_target, [pair], member_work(mariadb_source), tmp_path)
    assert rows_of(mariadb_target, "ocndb.member") == [
        (1, "ann b", "not synced"),
        (2, "bob", "not synced"),
        (30, "cy", "not synced"),
    ]


def test_exclude_list_carries_every_other_column(mariadb_source, mariadb_target, tmp_path):
    mariadb_source.execute(
        "CREATE DATABASE ocndb",
        "CREATE TABLE ocndb.member (member_id INT PRIMARY KEY, "
        "name VARCHAR(40), email VARCHAR(80), password_hash CHAR(8))",
    )
    mariadb_target.execute("CREATE DATABASE ocndb", MEMBER)  # no password_hash column at all

    def work():
        mariadb_source.execute(
            "INSERT INTO ocndb.member VALUES (1, 'ann', 'ann@x.org', 'h1'), (2, 'bob', 'bob@x.org', 'h2')",
            "UPDATE ocndb.member SET password_hash = 'h9' WHERE member_id = 1",  # only the excluded column
            "UPDATE ocndb.member SET email = 'bob@y.org', password_hash = 'h8' WHERE member_id = 2",
        )

    pair = {"source": "ocndb.member", "columns": ["password_hash"], "column_mode": "exclude"}
    sync(mariadb_source, mariadb_target, [pair], work, tmp_path)
    assert (
        rows_of(mariadb_target, "ocndb.member")
        == mariadb_source.execute("SELECT member_id, name, email FROM ocndb.member ORDER BY member_id")
        == [(1, "ann", "ann@x.org"), (2, "bob", "bob@y.org")]
    )


def test_include_list_without_the_primary_key_is_refused(mariadb_source, mariadb_target, tmp_path):
    ddl = "CREATE TABLE ocndb.member (member_id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(40))"
    for server in (mariadb_source, mariadb_target):
        server.execute("CREATE DATABASE ocndb", ddl)
    text = pipeline_yaml(
        mariadb_source,
        mariadb_target,
        [{"source": "ocndb.member", "columns": ["name"]}],
        start=start_of(mariadb_source),
        retry_max=1,
    )
    with running(text, str(tmp_path / "state")) as runner:
        mariadb_source.execute("INSERT INTO ocndb.member VALUES (5, 'a'), (6, 'b')")
        deadline = (
            time.monotonic() + 60
        )  # a cold start on a busy machine takes seconds; returns at the failure
        while not runner.failures() and time.monotonic() < deadline:
            time.sleep(0.1)
        failures = runner.failures()
    assert mariadb_target.execute("SELECT * FROM ocndb.member") == []
    assert failures and "member_id" in str(failures[0][1])


# ------------------------------------------------------------------------------------------ n:1

OFFER_COLUMNS = "(id INT PRIMARY KEY, shard INT, title VARCHAR(40), price DECIMAL(10,2), version INT)"


def shard_writer(server, table, shard, rows, seed, errors):
    """One thread per shard: its own connection, disjoint ids, many small transactions of I/U/D."""
    rng = random.Random(seed)
    base = shard * 100_000
    try:
        conn = server.connect(autocommit=False)
        with conn.cursor() as cur:
            for i in range(rows):
                cur.execute(
                    f"INSERT INTO {table} VALUES (%s, %s, %s, %s, 0)",
                    (base + i, shard, f"offer {shard}-{i}", rng.randint(100, 99999) / 100),
                )
                if i and rng.random() < 0.4:
                    cur.execute(
                        f"UPDATE {table} SET price = price + 1, version = version + 1, title = %s "
                        f"WHERE id = %s",
                        (f"upd {i}", base + rng.randrange(i)),
                    )
                if i and rng.random() < 0.15:
                    cur.execute(f"DELETE FROM {table} WHERE id = %s", (base + rng.randrange(i),))
                if rng.random() < 0.3:
                    conn.commit()
            conn.commit()
        conn.close()
    except Exception as exc:  # surfaced by the test thread
        errors.append(exc)


def test_range_pair_merges_eight_shards_written_concurrently(mariadb_source, mariadb_target, tmp_path):
    tables = [f"shop.offer{n}" for n in range(1, 10)]  # offer9 is outside the range [1-8]
    mariadb_source.execute("CREATE DATABASE shop", *(f"CREATE TABLE {t} {OFFER_COLUMNS}" for t in tables))
    mariadb_target.execute("CREATE DATABASE shop", f"CREATE TABLE shop.offer_all {OFFER_COLUMNS}")
    errors: list[BaseException] = []

    def work():
        threads = [
            threading.Thread(target=shard_writer, args=(mariadb_source, f"shop.offer{n}", n, 400, n, errors))
            for n in range(1, 9)
        ]
        for thread in threads:
            thread.start()
        mariadb_source.execute("INSERT INTO shop.offer9 VALUES (900000, 9, 'not in range', 1, 0)")
        for thread in threads:
            thread.join()
        assert not errors, errors

    sync(
        mariadb_source,
        mariadb_target,
        [{"source": "shop.offer[1-8]", "target": "shop.offer_all"}],
        work,
        tmp_path,
        batch_size=200,
        parallelism=4,
        load_pool_size=4,
    )
    expected = sorted(row for n in range(1, 9) for row in rows_of(mariadb_source, f"shop.offer{n}"))
    assert len(expected) > 8 * 250 and {row[1] for row in expected} == set(range(1, 9))
    assert rows_of(mariadb_target, "shop.offer_all") == expected


def test_regex_pair_merges_the_matching_tables(mariadb_source, mariadb_target, tmp_path):
    matching = ["shop.offer_1", "shop.offer_2", "shop.offer_17"]
    others = ["shop.offer_x", "shop.offer_1_old", "shop.offers_3"]
    mariadb_source.execute(
        "CREATE DATABASE shop", *(f"CREATE TABLE {t} {OFFER_COLUMNS}" for t in matching + others)
    )
    mariadb_target.execute("CREATE DATABASE shop", f"CREATE TABLE shop.offer_all {OFFER_COLUMNS}")

    def work():
        for n, table in enumerate(matching + others, start=1):
            mariadb_source.execute(
                f"INSERT INTO {table} VALUES ({n}, {n}, '{table}', {n}, 0), "
                f"({n + 100}, {n}, '{table}', {n}, 0)",
                f"UPDATE {table} SET version = 1 WHERE id = {n}",
                f"DELETE FROM {table} WHERE id = {n + 100}",
            )

    sync(
        mariadb_source,
        mariadb_target,
        [{"source": r"shop./offer_\d+/", "target": "shop.offer_all"}],
        work,
        tmp_path,
    )
    expected = sorted(row for table in matching for row in rows_of(mariadb_source, table))
    assert rows_of(mariadb_target, "shop.offer_all") == expected
    assert [row[2] for row in expected] == matching


# ------------------------------------------------------------------------------------------ 1:n

ORDERS = "(id INT PRIMARY KEY, customer VARCHAR(20), amount INT)"


def orders_work(source):
    def work():
        source.execute(
            "INSERT INTO shop.orders VALUES (1, 'a', 10), (2, 'b', 20), (3, 'c', 30)",
            "UPDATE shop.orders SET amount = 21 WHERE id = 2",
            "UPDATE shop.orders SET id = 4 WHERE id = 3",
            "DELETE FROM shop.orders WHERE id = 1",
        )

    return work


def test_one_source_table_to_two_tables_of_the_target(mariadb_source, mariadb_target, tmp_path):
    mariadb_source.execute("CREATE DATABASE shop", f"CREATE TABLE shop.orders {ORDERS}")
    mariadb_target.execute(
        "CREATE DATABASE shop",
        "CREATE DATABASE archive",
        f"CREATE TABLE shop.orders_copy {ORDERS}",
        f"CREATE TABLE archive.orders {ORDERS}",
    )
    pairs = [
        {"source": "shop.orders", "target": "shop.orders_copy"},
        {"source": "shop.orders", "target": "archive.orders"},
    ]
    sync(mariadb_source, mariadb_target, pairs, orders_work(mariadb_source), tmp_path)
    expected = rows_of(mariadb_source, "shop.orders")
    assert expected == [(2, "b", 21), (4, "c", 30)]
    assert rows_of(mariadb_target, "shop.orders_copy") == expected
    assert rows_of(mariadb_target, "archive.orders") == expected


def test_one_source_table_to_a_second_target_server(mariadb_source, mariadb_target, target2, tmp_path):
    mariadb_source.execute("CREATE DATABASE shop", f"CREATE TABLE shop.orders {ORDERS}")
    for server in (mariadb_target, target2):
        server.execute("CREATE DATABASE shop", f"CREATE TABLE shop.orders {ORDERS}")
    doc = yaml.safe_load(
        pipeline_yaml(mariadb_source, mariadb_target, ["shop.orders"], start=start_of(mariadb_source))
    )
    doc["sources"]["dst2"] = target2.source_config("dst2")
    doc["channels"][0]["pipelines"][0]["pairs"].append({"source": "shop.orders", "target_source": "dst2"})
    with running(yaml.safe_dump(doc, sort_keys=False), str(tmp_path / "state")) as runner:
        orders_work(mariadb_source)()
        wait_caught_up(runner, mariadb_source)
    expected = rows_of(mariadb_source, "shop.orders")
    assert expected == [(2, "b", 21), (4, "c", 30)]
    assert rows_of(mariadb_target, "shop.orders") == expected
    assert rows_of(target2, "shop.orders") == expected


# ------------------------------------------------------------------------------------------ push_weight


def load_offers_with_weights(source, target, state_dir, detail_weight, offer_weight):
    """Source writes offer BEFORE offer_detail in each transaction; a BEFORE INSERT trigger on the target's
    offer records whether the detail row was already there when the offer row arrived."""
    source.execute(
        "CREATE DATABASE shop",
        "CREATE TABLE shop.offer (id INT PRIMARY KEY, title VARCHAR(20))",
        "CREATE TABLE shop.offer_detail (id INT PRIMARY KEY, body VARCHAR(20))",
    )
    target.execute(
        "CREATE DATABASE shop",
        "CREATE TABLE shop.offer (id INT PRIMARY KEY, title VARCHAR(20), detail_seen INT)",
        "CREATE TABLE shop.offer_detail (id INT PRIMARY KEY, body VARCHAR(20))",
        "CREATE TRIGGER shop.offer_needs_detail BEFORE INSERT ON shop.offer FOR EACH ROW "
        "SET NEW.detail_seen = (SELECT COUNT(*) FROM shop.offer_detail WHERE id = NEW.id)",
    )

    def work():
        conn = source.connect(autocommit=False)
        with conn.cursor() as cur:
            for txn in range(5):
                for i in range(txn * 20, txn * 20 + 20):
                    cur.execute("INSERT INTO shop.offer VALUES (%s, %s)", (i, f"offer {i}"))
                    cur.execute("INSERT INTO shop.offer_detail VALUES (%s, %s)", (i, f"detail {i}"))
                conn.commit()
        conn.close()

    pairs = [
        {"source": "shop.offer", "push_weight": offer_weight},
        {"source": "shop.offer_detail", "push_weight": detail_weight},
    ]
    sync(source, target, pairs, work, state_dir)
    assert rows_of(target, "shop.offer_detail") == rows_of(source, "shop.offer_detail")
    return target.execute("SELECT id, title, detail_seen FROM shop.offer ORDER BY id")


def test_push_weight_loads_offer_detail_before_offer(mariadb_source, mariadb_target, tmp_path):
    rows = load_offers_with_weights(mariadb_source, mariadb_target, tmp_path, detail_weight=1, offer_weight=5)
    assert rows == [(i, f"offer {i}", 1) for i in range(100)]


def test_push_weight_reversed_loads_offer_first(mariadb_source, mariadb_target, tmp_path):
    """The control: the trigger does see the order (so the test above proves the weights)."""
    rows = load_offers_with_weights(mariadb_source, mariadb_target, tmp_path, detail_weight=5, offer_weight=1)
    assert rows == [(i, f"offer {i}", 0) for i in range(100)]


# ------------------------------------------------------------------------------------------ column groups


def update_city_after_zip_was_tampered(source, target, state_dir, column_groups):
    """Sync a row, change zip on the target behind otter's back, then update only city on the source."""
    ddl = "CREATE TABLE crm.address (id INT PRIMARY KEY, city VARCHAR(20), zip VARCHAR(10), note VARCHAR(20))"
    for server in (source, target):
        server.execute("CREATE DATABASE crm", ddl)
    pair = {"source": "crm.address", "column_groups": column_groups}
    text = pipeline_yaml(source, target, [pair], start=start_of(source), sync_mode="field")
    with running(text, str(state_dir)) as runner:
        source.execute("INSERT INTO crm.address VALUES (1, 'Hangzhou', '310000', 'n')")
        wait_caught_up(runner, source)
        target.execute("UPDATE crm.address SET zip = 'TAMPERED', note = 'target' WHERE id = 1")
        source.execute("UPDATE crm.address SET city = 'Shanghai' WHERE id = 1")
        wait_caught_up(runner, source)
    return target.execute("SELECT id, city, zip, note FROM crm.address")


def test_column_group_sends_the_whole_group_when_one_column_changed(mariadb_source, mariadb_target, tmp_path):
    rows = update_city_after_zip_was_tampered(mariadb_source, mariadb_target, tmp_path, [["city", "zip"]])
    assert rows == [
        (1, "Shanghai", "310000", "target")
    ]  # zip travelled with city; note (not grouped) did not


def test_without_column_group_field_mode_sends_only_the_changed_column(
    mariadb_source, mariadb_target, tmp_path
):
    rows = update_city_after_zip_was_tampered(mariadb_source, mariadb_target, tmp_path, [])
    assert rows == [(1, "Shanghai", "TAMPERED", "target")]


# ------------------------------------------------------------------------------------------ row filter


def test_filter_with_in_and_lower(mariadb_source, mariadb_target, tmp_path):
    ddl = "CREATE TABLE shop.t (id INT PRIMARY KEY, status VARCHAR(10), amount INT)"
    for server in (mariadb_source, mariadb_target):
        server.execute("CREATE DATABASE shop", ddl)

    def work():
        mariadb_source.execute(
            "INSERT INTO shop.t VALUES (1, 'PAID', 1), (2, 'new', 2), (3, 'Shipped', 3), (4, NULL, 4), "
            "(5, 'paid ', 5), (6, 'paid', 6), (7, 'new', 7)",
            "UPDATE shop.t SET status = 'Paid' WHERE id = 7",
        )  # now matches: arrives as a whole row

    pair = {"source": "shop.t", "filter": "lower(status) in ('paid', 'shipped')"}
    sync(mariadb_source, mariadb_target, [pair], work, tmp_path)
    assert rows_of(mariadb_target, "shop.t") == [
        (1, "PAID", 1),
        (3, "Shipped", 3),
        (6, "paid", 6),
        (7, "Paid", 7),
    ]

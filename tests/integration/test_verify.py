"""``otter-run verify`` against real MariaDB: mapping- and filter-aware counts, n:1 shards, repair, and no false
alarm for rows still in flight while replication runs."""

import pytest

from otter_core.config import load_config_text
from otter_core.control import set_channel_state
from otter_core.testing.compare import rows_of
from otter_core.testing.harness import pipeline_yaml, running, wait_caught_up, wait_paused
from otter_core.verify.session import PipelineVerification

pytestmark = pytest.mark.usefixtures("clean_databases")
MEMBER = (
    "CREATE TABLE shop.member (id INT PRIMARY KEY, name VARCHAR(30), email VARCHAR(40), secret VARCHAR(20), "
    "amount DECIMAL(10,2), status VARCHAR(10))"
)
PEOPLE = "CREATE TABLE crm.people (pid INT PRIMARY KEY, full_name VARCHAR(30), amount VARCHAR(20), status VARCHAR(10))"
MEMBER_PAIR = {
    "source": "shop.member",
    "target": "crm.people",
    "filter": "status == 'active'",
    "columns": {
        "id": "pid",
        "name": "full_name",
        "amount": {"name": "amount", "type": "varchar"},
        "status": "status",
    },
}


def start_of(server):
    file, pos = server.binlog_position()
    return {"file": file, "pos": pos}


def verify(text: str, state_dir, repair: bool = False, on_unit=None, **options):
    config = load_config_text(text)
    channel = config.channels[0]
    session = PipelineVerification(config, channel.name, channel.pipelines[0], str(state_dir), **options)
    try:
        return session.run(repair=repair, on_unit=on_unit)
    finally:
        session.close()


def counts(results) -> dict:
    return {r.unit.full_name: {k: v for k, v in r.found.items() if v} for r in results}


def left(results) -> int:
    return sum(sum(r.counts().values()) for r in results)


def test_verify_compares_through_renames_conversions_and_filters(mariadb_source, mariadb_target, tmp_path):
    mariadb_source.execute("CREATE DATABASE shop", MEMBER)
    mariadb_target.execute("CREATE DATABASE crm", PEOPLE)
    text = pipeline_yaml(mariadb_source, mariadb_target, [MEMBER_PAIR], start=start_of(mariadb_source))
    with running(text, str(tmp_path)) as runner:
        mariadb_source.execute(
            "INSERT INTO shop.member SELECT seq, CONCAT('m', seq), CONCAT(seq, '@x.org'), 'pw', "
            "seq / 4, IF(seq % 3 = 0, 'gone', 'active') FROM shop.seq_1_to_3000"
        )
        wait_caught_up(runner, mariadb_source)
    assert mariadb_target.execute("SELECT COUNT(*) FROM crm.people") == [(2000,)]
    results = verify(text, tmp_path, chunk_rows=700)
    assert counts(results) == {"crm.people": {}} and left(results) == 0
    assert results[0].source_rows == 3000 and results[0].target_rows == 2000
    mariadb_target.execute(
        "INSERT INTO crm.people VALUES (3, 'm3', '0.75', 'gone')",  # filtered out on the way
        "UPDATE crm.people SET amount = '9.99' WHERE pid = 10",
        "DELETE FROM crm.people WHERE pid IN (100, 2999)",
    )
    results = verify(text, tmp_path, chunk_rows=700, lag_timeout=5)
    assert counts(results) == {"crm.people": {"extra": 1, "different": 1, "missing": 2}}
    assert sorted(d.key for d in results[0].differences.values()) == [(3,), (10,), (100,), (2999,)]
    results = verify(text, tmp_path, repair=True, chunk_rows=700, lag_timeout=5)
    assert results[0].repaired == 4 and left(results) == 0
    assert left(verify(text, tmp_path, chunk_rows=700)) == 0
    assert mariadb_target.execute("SELECT full_name, amount FROM crm.people WHERE pid IN (10, 100)") == [
        ("m10", "2.50"),
        ("m100", "25.00"),
    ]


def test_verify_merges_shards_into_their_common_target(mariadb_source, mariadb_target, tmp_path):
    shards = [
        f"CREATE TABLE shop.offer{i} (id INT PRIMARY KEY, shard INT, title VARCHAR(20))" for i in (1, 2, 3)
    ]
    mariadb_source.execute("CREATE DATABASE shop", *shards)
    mariadb_target.execute(
        "CREATE DATABASE shop", "CREATE TABLE shop.offer (id INT PRIMARY KEY, shard INT, title VARCHAR(20))"
    )
    text = pipeline_yaml(
        mariadb_source,
        mariadb_target,
        [{"source": "shop.offer[1-3]", "target": "shop.offer"}],
        start=start_of(mariadb_source),
    )
    with running(text, str(tmp_path)) as runner:
        for i in (1, 2, 3):  # interleaved ids: every chunk holds rows of every shard
            mariadb_source.execute(
                f"INSERT INTO shop.offer{i} SELECT seq * 3 + {i}, {i}, CONCAT('t', seq) "
                f"FROM shop.seq_1_to_{400 * i}"
            )
        wait_caught_up(runner, mariadb_source)
    results = verify(text, tmp_path, chunk_rows=150)
    assert len(results) == 1 and len(results[0].unit.contributors) == 3
    assert left(results) == 0 and results[0].source_rows == results[0].target_rows == 2400
    mariadb_target.execute(
        "DELETE FROM shop.offer WHERE id = 3 * 350 + 2", "INSERT INTO shop.offer VALUES (2, 9, 'x')"
    )
    results = verify(text, tmp_path, repair=True, chunk_rows=150, lag_timeout=5)
    assert counts(results) == {"shop.offer": {"missing": 1, "extra": 1}} and results[0].repaired == 2
    assert left(results) == 0
    assert mariadb_target.execute("SELECT shard FROM shop.offer WHERE id IN (2, 1052)") == [(2,)]


def test_rows_in_flight_are_rechecked_after_the_lag_not_reported(mariadb_source, mariadb_target, tmp_path):
    for server in (mariadb_source, mariadb_target):
        server.execute("CREATE DATABASE shop", "CREATE TABLE shop.t (id INT PRIMARY KEY, v INT)")
    text = pipeline_yaml(mariadb_source, mariadb_target, ["shop.t"], start=start_of(mariadb_source))
    state = tmp_path / "state"
    with running(text, str(state)) as runner:
        mariadb_source.execute("INSERT INTO shop.t SELECT seq, seq FROM shop.seq_1_to_1000")
        wait_caught_up(runner, mariadb_source)
        set_channel_state(state, "test", "PAUSE")
        wait_paused(runner)
        mariadb_source.execute(
            "UPDATE shop.t SET v = -v WHERE id <= 5",
            "DELETE FROM shop.t WHERE id = 6",
            "INSERT INTO shop.t VALUES (5000, 1)",
        )
        first_pass = []

        def resume(result):
            first_pass.append(result.counts())
            set_channel_state(state, "test", "START")  # the pipeline catches up while verify waits for it

        results = verify(text, state, on_unit=resume)
    assert first_pass == [{"missing": 1, "extra": 1, "different": 5}]
    assert left(results) == 0 and counts(results) == {"shop.t": {}}
    assert rows_of(mariadb_target, "shop.t") == rows_of(mariadb_source, "shop.t")

"""A whole pipeline (real MariaDB source and target) whose batches cross the rpc pipe over gRPC."""

import pytest
import yaml

from otter_core.testing.harness import pipeline_yaml, running, wait_caught_up
from otter_grpc.pipe import GrpcPipe

pytestmark = pytest.mark.usefixtures("clean_databases")

TYPES = """CREATE TABLE wire.kinds (
  id INT PRIMARY KEY, biu BIGINT UNSIGNED, dec65 DECIMAL(65,30), d DOUBLE, b64 BIT(64), dt DATE, dtm DATETIME(6),
  tm TIME(6), yr YEAR, vc VARCHAR(100), bn VARBINARY(300), bl BLOB, en ENUM('s','m','l'), st SET('a','b','c'),
  js JSON)"""
ROWS = [
    "(1, 18446744073709551615, '-99999999999999999999999999999999999.999999999999999999999999999999', "
    "-1.7976931348623157e308, b'1111111111111111111111111111111111111111111111111111111111111111', '1000-01-01', "
    "'9999-12-31 23:59:59.999999', '-838:59:59.000000', 2155, 'emoji 😀🐟', x'00ff80', REPEAT(x'01', 3000), 'm', "
    "'a,c', '{\"k\": [1, 2.5, null]}')",
    "(2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
    "(3, 0, 0, 0.1, b'0', '0000-00-00', '0000-00-00 00:00:00', '00:00:00.000001', 0, '', '', '', 's', '', '{}')",
]


def rpc_yaml(source, target, **parameters) -> str:
    file, pos = source.binlog_position()
    doc = yaml.safe_load(
        pipeline_yaml(source, target, ["wire.*"], start={"file": file, "pos": pos}, **parameters)
    )
    doc["channels"][0]["pipelines"][0]["pipe"] = "rpc"
    return yaml.safe_dump(doc)


def test_rows_of_every_kind_cross_the_rpc_pipe(mariadb_source, mariadb_target, tmp_path, monkeypatch):
    keys = []
    put = GrpcPipe.put

    def recording_put(self, batch):
        keys.append(put(self, batch))
        return keys[-1]

    monkeypatch.setattr(GrpcPipe, "put", recording_put)
    for server in (mariadb_source, mariadb_target):
        server.execute(
            "CREATE DATABASE wire", TYPES, "CREATE TABLE wire.bulk (id INT PRIMARY KEY, v VARCHAR(200))"
        )
    config = rpc_yaml(mariadb_source, mariadb_target, pipe_threshold_bytes=4096, batch_size=500)
    with running(config, str(tmp_path / "state")) as runner:
        mariadb_source.execute(f"INSERT INTO wire.kinds VALUES {', '.join(ROWS)}")
        conn = mariadb_source.connect(autocommit=False)
        with conn.cursor() as cur:  # big transactions: batches above the threshold take the file pipe
            for start in range(0, 6000, 2000):
                cur.executemany(
                    "INSERT INTO wire.bulk VALUES (%s, %s)",
                    [(i, f"row {i} " + "x" * (i % 150)) for i in range(start, start + 2000)],
                )
                conn.commit()
            cur.execute("UPDATE wire.bulk SET v = CONCAT(v, '!') WHERE id % 7 = 0")
            cur.execute("DELETE FROM wire.bulk WHERE id % 11 = 0")
            conn.commit()
        conn.close()
        wait_caught_up(runner, mariadb_source, timeout=120)
        mariadb_source.execute("INSERT INTO wire.bulk VALUES (99999, 'a lone small change')")
        wait_caught_up(runner, mariadb_source, timeout=60)
    assert {key.split(":")[0] for key in keys} == {"rpc", "file"}  # small batches by call, big ones by file
    for table in ("wire.kinds", "wire.bulk"):
        query = f"SELECT * FROM {table} ORDER BY id"
        assert mariadb_target.execute(query) == mariadb_source.execute(query), table
    assert len(mariadb_target.execute("SELECT id FROM wire.bulk")) == 6001 - len(range(0, 6000, 11))

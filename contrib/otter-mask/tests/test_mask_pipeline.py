"""The mask processor through a real pipeline: MariaDB source -> otter -> MariaDB target."""

import pytest

from otter_core.testing.harness import pipeline_yaml, running, wait_caught_up

pytestmark = pytest.mark.usefixtures("clean_databases")

CUSTOMER = (
    "CREATE TABLE crm.customer (id INT PRIMARY KEY, name VARCHAR(40), email VARCHAR(80), phone VARCHAR(20))"
)


def start_of(server):
    file, pos = server.binlog_position()
    return {"file": file, "pos": pos}


def test_mask_hides_email_and_phone_on_the_target(mariadb_source, mariadb_target, tmp_path):
    for server in (mariadb_source, mariadb_target):
        server.execute("CREATE DATABASE crm", CUSTOMER)
    pair = {
        "source": "crm.customer",
        "processors": ["mask"],
        "processor_options": {"mask": {"columns": ["email", "phone"]}},
    }
    text = pipeline_yaml(mariadb_source, mariadb_target, [pair], start=start_of(mariadb_source))
    with running(text, str(tmp_path / "state")) as runner:
        mariadb_source.execute(
            "INSERT INTO crm.customer VALUES (1, 'Ann', 'ann@example.com', '138-0013-8000'), "
            "(2, 'Bob', 'bob@example.org', NULL), (3, 'Cy', 'cy@example.net', '555 0101')",
            "UPDATE crm.customer SET email = 'bob@new.example.org', phone = '+1 555 010 9999' WHERE id = 2",
            "DELETE FROM crm.customer WHERE id = 3",
        )
        wait_caught_up(runner, mariadb_source)
    assert mariadb_target.execute("SELECT * FROM crm.customer ORDER BY id") == [
        (1, "Ann", "a***@example.com", "***-****-8000"),
        (2, "Bob", "b***@new.example.org", "+* *** *** 9999"),
    ]


def test_mask_options_come_from_the_pair(mariadb_source, mariadb_target, tmp_path):
    for server in (mariadb_source, mariadb_target):
        server.execute("CREATE DATABASE crm", CUSTOMER)
    pair = {
        "source": "crm.customer",
        "processors": ["mask"],
        "processor_options": {"mask": {"columns": {"name": "hide"}}},
    }
    text = pipeline_yaml(mariadb_source, mariadb_target, [pair], start=start_of(mariadb_source))
    with running(text, str(tmp_path / "state")) as runner:
        mariadb_source.execute(
            "INSERT INTO crm.customer VALUES (1, 'Ann', 'ann@example.com', '138-0013-8000')"
        )
        wait_caught_up(runner, mariadb_source)
    assert mariadb_target.execute("SELECT * FROM crm.customer") == [
        (1, "***", "ann@example.com", "138-0013-8000")
    ]


def test_bad_mask_options_stop_the_pipeline_at_start(mariadb_source, mariadb_target, tmp_path):
    mariadb_source.execute("CREATE DATABASE crm", CUSTOMER)
    pair = {
        "source": "crm.customer",
        "processors": ["mask"],
        "processor_options": {"mask": {"columns": {"email": "scramble"}}},
    }
    text = pipeline_yaml(mariadb_source, mariadb_target, [pair], start=start_of(mariadb_source))
    with running(text, str(tmp_path / "state")) as runner:
        assert runner.join(timeout=20), "the pipeline should stop, not retry"
        [(_, error)] = runner.failures()
    assert "processor 'mask' of pair crm.customer" in str(error) and "scramble" in str(error)

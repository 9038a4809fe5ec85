"""`otter-run run` of a two-way YAML channel from the command line, with a conflict made on purpose
(channel paused, the same key written differently on both sides) and resolved with `otter-run conflicts`."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from otter_core.status_file import read_status_file
from otter_core.testing.twoway import SELECT_ROWS, make_table, twoway_yaml

pytestmark = pytest.mark.usefixtures("clean_databases")
OTTER_RUN = str(Path(sys.executable).parent / "otter-run")


def otter_run(*args, check=True):
    done = subprocess.run([OTTER_RUN, *args], capture_output=True, text=True, timeout=120)
    if check:
        assert done.returncode == 0, done.stderr
    return done


def wait_until(predicate, process, what, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"otter-run ended early: {process.stderr.read()}"
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what} not reached after {timeout}s")


def parked(config):
    out = otter_run("conflicts", "list", config, "--status", "parked", "--json").stdout
    return [json.loads(line) for line in out.splitlines()]


def test_two_way_channel_runs_from_the_command_line_and_conflicts_resolve_there(
    mariadb_source, mariadb_target, tmp_path
):
    a, b = mariadb_source, mariadb_target
    make_table(a, b)
    config, state = tmp_path / "ab.yaml", str(tmp_path / "state")
    config.write_text(twoway_yaml(a, b, "manual", home=False))
    otter_run("init-db", str(config))
    status_file = tmp_path / "status.json"
    run = subprocess.Popen(
        [OTTER_RUN, "run", str(config), "--state-dir", state, "--quiet", "--status-file", str(status_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        a.execute("INSERT INTO shop.c VALUES (1, 'from-a', 1, 1)")
        b.execute("INSERT INTO shop.c VALUES (2, 'from-b', 2, 2)")
        wait_until(
            lambda: (
                a.execute(SELECT_ROWS) == b.execute(SELECT_ROWS) != [] and len(a.execute(SELECT_ROWS)) == 2
            ),
            run,
            "rows of both sides on both sides",
        )
        otter_run("channel", "pause", "ab", "--state-dir", state)
        wait_until(
            lambda: (
                [p["state"] for p in (read_status_file(status_file) or {}).get("pipelines", [])]
                == ["paused", "paused"]
            ),
            run,
            "both pipelines paused",
        )  # the status file is written every second
        a.execute("UPDATE shop.c SET status = 'a-wrote' WHERE id = 1")
        b.execute("UPDATE shop.c SET status = 'b-wrote' WHERE id = 1")
        otter_run("channel", "resume", "ab", "--state-dir", state)
        wait_until(lambda: len(parked(str(config))) == 2, run, "a parked conflict on each side")
        assert {(c["kind"], c["table"]) for c in parked(str(config))} == {("update-changed", "c")}
        first = parked(str(config))[0]
        shown = json.loads(otter_run("conflicts", "show", str(config), first["id"]).stdout)
        assert shown["source_image"]["status"] != shown["target_image"]["status"]
        otter_run(
            "conflicts", "resolve", str(config), first["id"], "--image", '{"status": "agreed"}', "--by", "ops"
        )
        wait_until(lambda: parked(str(config)) == [], run, "the other side's park superseded")
        wait_until(lambda: a.execute(SELECT_ROWS) == b.execute(SELECT_ROWS), run, "both sides equal")
        assert a.execute("SELECT status FROM shop.c WHERE id = 1") == [("agreed",)]
        bad = otter_run("conflicts", "resolve", str(config), first["id"], "--source", check=False)
        assert bad.returncode == 2 and "not parked" in bad.stderr
    finally:
        run.send_signal(signal.SIGTERM)
        out, err = run.communicate(timeout=90)
    assert run.returncode == 0, err

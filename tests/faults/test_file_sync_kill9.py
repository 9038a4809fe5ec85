"""kill -9 of otter-run in the middle of a file sync over the rpc pipe: the next run resumes and completes."""

import os
import signal
import subprocess
import sys
import time

import pytest

from otter_core.testing.files import SCHEMA, TABLE_DDL, file_sync_yaml, insert_rows, tree_digest, write_files

pytestmark = pytest.mark.usefixtures("clean_databases")
ROWS = 300


def start_runner(config, state_dir, log):
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "otter_core.cli",
            "--log-level",
            "info",
            "run",
            str(config),
            "--state-dir",
            str(state_dir),
            "--quiet",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def visible_files(root):
    return {
        os.path.join(folder, name): os.stat(os.path.join(folder, name)).st_ino
        for folder, _, names in os.walk(root)
        for name in names
        if not name.startswith(".")
    }


def test_a_killed_file_sync_resumes_without_sending_finished_files_again(
    mariadb_source, mariadb_target, tmp_path
):
    for server in (mariadb_source, mariadb_target):
        server.execute(f"CREATE DATABASE {SCHEMA}", TABLE_DDL)
    file, pos = mariadb_source.binlog_position()
    src, dst = tmp_path / "src", tmp_path / "dst"
    write_files(src, range(ROWS), seed=3)
    insert_rows(mariadb_source, range(ROWS), per_transaction=10)
    config = tmp_path / "files.yaml"
    config.write_text(
        file_sync_yaml(
            mariadb_source,
            mariadb_target,
            src,
            dst,
            {"file": file, "pos": pos},
            pipe="rpc",
            file_load_pool_size=2,
            batch_size=10,
            parallelism=2,
        )
    )
    log_path = tmp_path / "runner.log"
    with open(log_path, "wb") as log:
        proc = start_runner(config, tmp_path / "state", log)
        deadline = time.monotonic() + 120
        while len(visible_files(dst)) < ROWS // 3:  # kill it a third of the way through
            assert proc.poll() is None and time.monotonic() < deadline, log_path.read_text()[-3000:]
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        before = visible_files(dst)
        # copies cut in the middle: a sidecar naming written chunks beside its data (a kill between the
        # rename and the sidecar's removal leaves a sidecar without data: that file is complete)
        partial = [
            os.path.join(folder, name)
            for folder, _, names in os.walk(dst)
            for name in names
            if name.endswith(".otter-part.json")
            and os.path.exists(os.path.join(folder, name[:-5]))
            and '"done": []' not in open(os.path.join(folder, name)).read()
        ]
        loaded_rows = mariadb_target.execute(f"SELECT COUNT(*) FROM {SCHEMA}.product")[0][0]
        assert 0 < len(before) < ROWS and loaded_rows < ROWS
        proc = start_runner(config, tmp_path / "state", log)
        try:
            deadline = time.monotonic() + 180
            query = f"SELECT * FROM {SCHEMA}.product ORDER BY id"
            while (
                mariadb_target.execute(query) != mariadb_source.execute(query)
                or len(visible_files(dst)) < ROWS
            ):
                assert proc.poll() is None and time.monotonic() < deadline, log_path.read_text()[-3000:]
                time.sleep(0.1)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
    assert tree_digest(dst) == tree_digest(src)
    after = visible_files(dst)
    rewritten = [path for path, inode in before.items() if after[path] != inode]
    assert rewritten == [], "files finished before the kill were transferred again"
    if partial:  # a file was cut in the middle: its chunks were kept, not fetched again
        assert "resuming" in log_path.read_text(), partial
    leftovers = [name for _, _, names in os.walk(dst) for name in names if name.startswith(".")]
    assert leftovers == []

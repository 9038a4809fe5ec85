"""``otter-run demo`` end to end: two throwaway servers, a live workload, equal tables, nothing left behind."""

import glob
import os
import re
import tempfile

from otter_mysql.demo import run_demo


def _demo_dirs() -> set[str]:
    return set(glob.glob(f"{tempfile.gettempdir()}/otter-demo-*"))


def test_demo_syncs_and_verifies(capsys, monkeypatch, tmp_path_factory):
    # a private temporary directory: another demo running on the machine must not count as left behind
    private = tmp_path_factory.mktemp("demo")
    monkeypatch.setattr(tempfile, "tempdir", str(private))
    assert run_demo(rows=2000, seconds=3, keep=False) == 0
    out = capsys.readouterr().out
    assert "pipeline.yaml:" in out and "src-to-dst" in out
    for table in ("shop.customers", "shop.orders", "shop.order_items"):
        line = next((line for line in out.splitlines() if line.startswith(table + " ")), None)
        assert line is not None, f"no verification line for {table} in:\n{out}"
        assert line.split()[-1] == "yes", line
        rows_source, rows_target = line.split()[1:3]
        assert rows_source == rows_target and int(rows_source) > 0, line
    assert "OK: the target holds exactly the source's" in out
    assert "servers stopped and removed" in out
    files_in = re.search(r"\(files in (\S+)\)", out)
    assert files_in and files_in.group(1).startswith(str(private)), out.splitlines()[0]
    assert not os.path.exists(files_in.group(1)) and _demo_dirs() == set()

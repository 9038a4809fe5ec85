"""What the selector process imports at its spawn: the native binlog reader needs nothing of
mysql-replication, whose package ``__init__`` cost ~20 ms at each start (of the child and the runner)."""

from __future__ import annotations

import subprocess
import sys

import pymysqlreplication.constants.FIELD_TYPE as LIBRARY_TYPES

from otter_mysql import field_types


def test_our_column_type_codes_are_the_librarys() -> None:
    ours = {name: value for name, value in vars(field_types).items() if name.isupper()}
    theirs = {name: value for name, value in vars(LIBRARY_TYPES).items() if name.isupper()}
    assert ours == theirs and len(ours) > 30


def test_the_selector_and_the_runners_decoder_do_not_import_mysql_replication() -> None:
    """A fresh interpreter (imports are per process), as the selector process and the runner start: the
    selector's module, the hand-over's expander and the row decoder; the library reader (``binlog_reader:
    library``) still imports it when it is opened."""
    code = (
        "import sys; import otter_mysql.selector, otter_mysql.handover, otter_mysql.rowops, "
        "otter_mysql.binlog_tablemap; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'pymysqlreplication')); "
        "import otter_mysql.library_reader; print('pymysqlreplication' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split("\n")[:2] == ["[]", "True"]

"""Deprecated alias of ``otter_mysql.mysql_connect`` for the manager's connection test only.

The PyMySQL helper moved into the otter-mysql plugin (the core imports no driver). The manager
(``otter_core/manager/services/connection_test.py``) still imports it from here until the manager moves
into its own distribution; delete this module then. The import contract (tests/unit/test_import_contract.py)
names it as the one exception, next to the manager.
"""

from __future__ import annotations

from otter_mysql.mysql_connect import Connection, connect

__all__ = ["Connection", "connect"]

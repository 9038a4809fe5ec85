"""otter-oracle: the Oracle loader and dialect (python-oracledb, imported only when a loader starts)."""

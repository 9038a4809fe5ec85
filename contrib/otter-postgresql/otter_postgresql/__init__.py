"""otter-postgresql: the PostgreSQL loader (psycopg 3, imported only when a loader starts)."""

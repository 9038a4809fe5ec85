"""otter-redis: cache refresh in Redis from row changes (redis-py, imported only when a loader starts)."""

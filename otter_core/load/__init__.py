"""Dialect-free load algorithms: merge per key, weight buckets, pk-hash partitions."""

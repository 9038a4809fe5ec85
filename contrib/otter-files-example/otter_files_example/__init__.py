"""An example FileResolver: product images sharded by id (see README)."""

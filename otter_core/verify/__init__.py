"""``otter-run verify``: compare a pipeline's source and target tables chunk by chunk, and repair them."""

"""The S/E/T/L engine: select.py (batches), extract.py, transform.py, load.py, pipeline.py (window, ack, rollback)."""

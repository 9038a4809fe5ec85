"""otter for Python: binlog-based database synchronisation, one-way and two-way."""

from otter_core.hookspecs import hookimpl

__version__ = "0.1.0"
__all__ = ["hookimpl", "__version__"]

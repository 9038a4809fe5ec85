"""otter-dynamic: EventProcessors and FileResolvers from Python source text (compiled at run time,
versioned in a store, hot-swapped between batches). The manager's API is ``validate``,
``DynamicStore.push`` / ``activate`` / ``versions`` / ``source`` / ``loaded``."""

from otter_dynamic.source import InvalidSource, Problem, compile_hook, validate
from otter_dynamic.store import DynamicStore, VersionInfo

__all__ = ["DynamicStore", "InvalidSource", "Problem", "VersionInfo", "compile_hook", "validate"]

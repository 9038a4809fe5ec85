"""THE plugin API: everything a plugin may import from otter-core, in one module.

Plugins (under ``plugins/``, ``contrib/`` and third-party ones) import from here only (their tests may
also use ``otter_core.testing``); everything else in ``otter_core`` is the engine's and may change
without notice. See docs/plugins.md.

The engine's runners (``PipelineRunner``, ``SelectExtractRunner``, ``TransformLoadRunner``) and the
built-in memory pipe and arbitrator, which a node plugin (otter-zookeeper) drives, are imported on first
use: a selector or loader plugin that imports this module does not pull the whole engine in with it. So
are the YAML reader (``load_config_text``) and the file-sync helpers: the chunk reader and selector
processes import this module at their start and use neither.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from otter_core import fencing
from otter_core.conflict_policy import parse_policy, policy_hint
from otter_core.contracts import (
    Arbitrator,
    BatchPolling,
    CheckedLoader,
    DeferredDecoding,
    DeletesFiles,
    DiscardingPipe,
    EventProcessor,
    FencedLoader,
    FencingArbitrator,
    FileResolver,
    FileSource,
    IgnoresDDL,
    InterruptibleSelector,
    Loader,
    PackedHandover,
    PerBatch,
    Pipe,
    RowReader,
    Selector,
    StageSignals,
    StartPinning,
    StatefulSelector,
    TableReader,
)
from otter_core.control import STATES as CHANNEL_STATES
from otter_core.errors import (
    DETERMINISTIC,
    TRANSIENT,
    UNKNOWN,
    ConfigError,
    DataError,
    Fenced,
    FileChanged,
    LoadError,
    OtterError,
    PipeError,
    PluginNotFound,
    SourceError,
    error_class,
)
from otter_core.files.collect import FILE_SYNC_OPTIONS
from otter_core.hookspecs import hookimpl
from otter_core.model import (
    Channel,
    Column,
    ConflictPolicy,
    DataMedia,
    DataMediaPair,
    DataMediaSource,
    EventData,
    EventType,
    FileAction,
    FileRef,
    Hint,
    NodeContext,
    OtterConfig,
    Pipeline,
    PipelineParameters,
    Position,
    RowBatch,
    SyncMode,
    Transaction,
)
from otter_core.model.node import ReadySignal, host_port
from otter_core.plugins import PipelinePlugins
from otter_core.state import safe_name

if TYPE_CHECKING:  # for type checkers; at run time through __getattr__ below
    from otter_core.builtin import memory_arbitrator, memory_pipe
    from otter_core.config import load_config_text
    from otter_core.engine.pipeline import PipelineRunner
    from otter_core.engine.stages import SelectExtractRunner, TransformLoadRunner
    from otter_core.files.fetch import fetch_file
    from otter_core.files.guard import check_all, check_received, target_roots
    from otter_core.files.stage import batch_files

_LAZY = {
    "PipelineRunner": ("otter_core.engine.pipeline", "PipelineRunner"),
    "SelectExtractRunner": ("otter_core.engine.stages", "SelectExtractRunner"),
    "TransformLoadRunner": ("otter_core.engine.stages", "TransformLoadRunner"),
    "memory_arbitrator": ("otter_core.builtin.memory_arbitrator", None),
    "memory_pipe": ("otter_core.builtin.memory_pipe", None),
    # the YAML parser and file sync: ~15 ms of imports that a chunk reader or selector process never uses
    "load_config_text": ("otter_core.config", "load_config_text"),
    "fetch_file": ("otter_core.files.fetch", "fetch_file"),
    "check_all": ("otter_core.files.guard", "check_all"),
    "check_received": ("otter_core.files.guard", "check_received"),
    "target_roots": ("otter_core.files.guard", "target_roots"),
    "batch_files": ("otter_core.files.stage", "batch_files"),
}


def __getattr__(name: str) -> Any:
    """The engine parts a node plugin drives, the YAML reader and file sync, imported on first use (see the
    module docstring)."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    module_name, attribute = _LAZY[name]
    module = importlib.import_module(module_name)
    return module if attribute is None else getattr(module, attribute)


__all__ = [
    "CHANNEL_STATES",
    "DETERMINISTIC",
    "FILE_SYNC_OPTIONS",
    "TRANSIENT",
    "UNKNOWN",
    "Arbitrator",
    "BatchPolling",
    "Channel",
    "Column",
    "ConfigError",
    "ConflictPolicy",
    "DataError",
    "DataMedia",
    "DataMediaPair",
    "DataMediaSource",
    "DeferredDecoding",
    "DeletesFiles",
    "DiscardingPipe",
    "EventData",
    "EventProcessor",
    "EventType",
    "Fenced",
    "CheckedLoader",
    "FencedLoader",
    "FencingArbitrator",
    "FileAction",
    "FileChanged",
    "FileRef",
    "FileResolver",
    "FileSource",
    "Hint",
    "IgnoresDDL",
    "InterruptibleSelector",
    "LoadError",
    "Loader",
    "NodeContext",
    "OtterConfig",
    "OtterError",
    "PackedHandover",
    "PerBatch",
    "Pipe",
    "PipeError",
    "Pipeline",
    "PipelineParameters",
    "PipelinePlugins",
    "PipelineRunner",
    "PluginNotFound",
    "Position",
    "ReadySignal",
    "RowBatch",
    "RowReader",
    "SelectExtractRunner",
    "Selector",
    "SourceError",
    "StageSignals",
    "StartPinning",
    "StatefulSelector",
    "SyncMode",
    "TableReader",
    "Transaction",
    "TransformLoadRunner",
    "batch_files",
    "check_all",
    "check_received",
    "error_class",
    "fencing",
    "fetch_file",
    "hookimpl",
    "host_port",
    "load_config_text",
    "memory_arbitrator",
    "memory_pipe",
    "parse_policy",
    "policy_hint",
    "safe_name",
    "target_roots",
]

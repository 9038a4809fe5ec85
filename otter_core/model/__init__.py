"""attrs value classes: the configuration model and the events that flow through a pipeline."""

from otter_core.model.config import (
    Channel,
    ColumnGroup,
    ColumnPair,
    ConflictPolicy,
    DataMedia,
    DataMediaPair,
    DataMediaSource,
    OtterConfig,
    Pipeline,
    PipelineParameters,
    SnapshotSettings,
    StartKind,
    SyncMode,
)
from otter_core.model.events import Column, EventData, EventType, Position, RowBatch, Transaction
from otter_core.model.files import FileAction, FileRef
from otter_core.model.hints import Hint
from otter_core.model.node import NodeContext

__all__ = [
    "Channel",
    "Column",
    "ColumnGroup",
    "ColumnPair",
    "ConflictPolicy",
    "DataMedia",
    "DataMediaPair",
    "DataMediaSource",
    "EventData",
    "EventType",
    "FileAction",
    "FileRef",
    "Hint",
    "NodeContext",
    "OtterConfig",
    "Pipeline",
    "PipelineParameters",
    "Position",
    "RowBatch",
    "SnapshotSettings",
    "StartKind",
    "SyncMode",
    "Transaction",
]

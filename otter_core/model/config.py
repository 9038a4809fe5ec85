"""The configuration model: sources, media, pairs, pipelines and channels (otter's vocabulary)."""

from __future__ import annotations

import enum
import fnmatch
import re
from collections.abc import Mapping
from typing import Any

import attrs
from attrs import field, frozen


class SyncMode(str, enum.Enum):
    ROW = "row"  # every column of a changed row is written
    FIELD = "field"  # an UPDATE writes only the columns that changed


class StartKind(str, enum.Enum):
    CURRENT = "current"  # the source's current end of log
    POSITION = "position"  # binlog file + pos
    GTID = "gtid"  # a MariaDB GTID position


@frozen
class DataMediaSource:
    """A database endpoint. ``password`` is never shown in repr or logs."""

    name: str
    type: str
    host: str = "127.0.0.1"
    port: int = 3306
    user: str = "root"
    password: str = field(default="", repr=False)
    encoding: str = "utf8mb4"
    options: Mapping[str, Any] = field(factory=dict)

    def safe_dict(self) -> dict[str, Any]:
        """The source as text fit for logs and the console: the password masked."""
        return {
            "name": self.name,
            "type": self.type,
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "password": "****" if self.password else "",
        }


@frozen(cache_hash=True)
class DataMedia:
    """A table on a source. ``name`` (and ``schema``) may be a glob ``shop.*``, a range
    ``offer[1-32]`` or a regular expression written ``/offer_\\d+/``."""

    schema: str
    name: str

    def matches(self, schema: str, table: str) -> bool:
        return _name_matches(self.schema, schema) and _name_matches(self.name, table)

    @property
    def is_pattern(self) -> bool:
        return any(c in self.schema + self.name for c in "*?[/")

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}"


_RANGE = re.compile(r"^(?P<pre>[^\[]*)\[(?P<lo>\d+)-(?P<hi>\d+)\](?P<post>.*)$")


def _name_matches(pattern: str, name: str) -> bool:
    if len(pattern) > 1 and pattern.startswith("/") and pattern.endswith("/"):
        return re.fullmatch(pattern[1:-1], name) is not None
    m = _RANGE.match(pattern)
    if m:
        pre, post = m["pre"], m["post"]
        if not (name.startswith(pre) and name.endswith(post)):
            return False
        middle = name[len(pre) : len(name) - len(post)]
        return middle.isdigit() and int(m["lo"]) <= int(middle) <= int(m["hi"])
    return fnmatch.fnmatchcase(name, pattern)


@frozen
class ColumnPair:
    """Maps one source column to one target column (rename when the names differ), optionally
    converting the value to ``type`` (see ``otter_core.engine.convert``)."""

    source: str
    target: str
    type: str | None = None


@frozen
class ColumnGroup:
    """Columns that always travel together: if one changed, all are sent (field mode)."""

    columns: tuple[str, ...]


@frozen
class ConflictPolicy:
    """What the loader does when a change meets a target row that is not as the source saw it (see
    docs/architecture.md "Conflicts"): ``home_wins``, ``newer_wins`` (by ``column``), ``source_wins`` or
    ``manual`` (park the row until an operator resolves it)."""

    kind: str
    column: str | None = None

    def __str__(self) -> str:
        return f"{self.kind}({self.column})" if self.column else self.kind


@frozen(cache_hash=True)
class DataMediaPair:
    """Source media -> target media, with optional column mapping, weight and processors."""

    source: DataMedia
    target: DataMedia
    target_source: str | None = None  # name of the DataMediaSource to load into; None = pipeline target
    column_pairs: tuple[ColumnPair, ...] = ()
    column_mode: str = "include"  # include: only the listed columns; exclude: all but them
    column_groups: tuple[ColumnGroup, ...] = ()
    push_weight: int = 5
    processors: tuple[str, ...] = ()
    filter: str | None = None
    processor_options: Mapping[str, Mapping[str, Any]] = field(factory=dict, eq=False)
    file_resolver: str | None = None
    file_resolver_options: Mapping[str, Any] = field(factory=dict, eq=False)
    conflict: ConflictPolicy | None = None  # None: no conflict detection (changes are applied as they come)

    def target_name(self, schema: str, table: str) -> tuple[str, str]:
        """The target (schema, table) for a source table matched by this pair; a ``*`` target
        keeps the source name."""
        t_schema = schema if _is_wildcard(self.target.schema) else self.target.schema
        t_table = table if _is_wildcard(self.target.name) else self.target.name
        return t_schema, t_table


def _is_wildcard(name: str) -> bool:
    return name == "*" or (any(c in name for c in "*?[") and not name.startswith("/"))


@frozen
class PipelineParameters:
    """Tuning and policy knobs of one pipeline (names follow otter's)."""

    parallelism: int = 5
    batch_size: int = 8000
    batch_bytes: int = 8 * 1024 * 1024
    batch_timeout_ms: int = 500
    load_pool_size: int = 4
    sync_mode: SyncMode = SyncMode.FIELD
    sync_consistency: str = "base"  # base: the logged row image; media: re-read the current row by key
    skip_no_row: bool = False  # media: drop (and reject-log) events whose row no longer exists
    skip_ddl: bool = False
    skip_load_exception: bool = False
    skip_ddl_exception: bool = False
    skip_processor_exception: bool = False
    skip_select_exception: bool = False
    dry_run: bool = False
    retry_max: int = 10  # failed attempts in a row (unknown errors) before stopping; 0 = forever
    retry_max_transient: int = 0  # the same for transient errors (connection, deadlock...); 0 = forever
    retry_backoff_ms: int = 500
    stall_timeout_ms: int = 60_000  # nothing applied this long while events wait: state "stalled"
    memory_limit_bytes: int = 64 * 1024 * 1024
    server_id: int | None = None  # replica id the selector registers with; derived when None
    # the selector (and an initial load's chunk reads) in child processes: decoding gets a core of its own.
    # None (not set): yes, except for `otter-run load --exit-when-done` (``bounded_copy``)
    select_process: bool | None = None
    binlog_reader: str = "native"  # MySQL selector: otter's own reader, or "library" (mysql-replication)
    loopback_mark: bool = False  # write retl.retl_mark in every loaded transaction (always on in two-way)
    allow_fk_cascades: bool = (
        False  # start although cascaded FK changes (not in the binlog) will not be synced
    )
    remedy_delay_threshold: int = (
        60  # s: a home remedy younger than this sends the logged image, older re-reads
    )
    file_load_pool_size: int = 8  # files loaded in parallel (file sync)
    pipe_threshold_bytes: int = 128 * 1024  # rpc pipe: bigger batches travel through the file pipe
    pipe_streams: int = 4  # file pipe: parallel streams per big batch or file

    @property
    def in_child_process(self) -> bool:
        """Whether the selector and the chunk reads run in child processes (``select_process``)."""
        return self.select_process is not False

    def bounded_copy(self) -> PipelineParameters:
        """These parameters for a run that ends after its initial load (``otter-run load
        --exit-when-done``): unless ``select_process`` is set, the selector and the chunk reads run in
        this process. A copy's binlog traffic is its watermarks and the changes made meanwhile; two
        child interpreters cost it more than they save (docs/performance.md, stop 28)."""
        if self.select_process is not None:
            return self
        return attrs.evolve(self, select_process=False)


@frozen
class SnapshotSettings:
    """A pipeline's ``snapshot:``: load its tables online on its first start (``otter_core.engine.snapshot``)."""

    # 20,000: a 1M-row load ~5 % sooner than with 10,000 (fewer watermarks and statements), ~6 MB more peak
    # memory; wide rows are cut by bytes anyway (``snapshot_plan.chunk_limit``); docs/performance.md
    chunk_rows: int = 20_000
    tables: tuple[str, ...] = ()  # schema.table names or patterns; () = every table the pairs take


@frozen
class Pipeline:
    """One direction of flow: ``source`` -> ``target`` through S/E/T/L."""

    name: str
    source: str
    target: str
    pairs: tuple[DataMediaPair, ...]
    start: Mapping[str, Any] = field(factory=lambda: {"kind": StartKind.CURRENT})
    parameters: PipelineParameters = PipelineParameters()
    selector: str | None = None  # plugin name; None = the source's type
    loader: str | None = None  # plugin name; None = the target's type
    pipe: str = "memory"
    arbitrator: str = "memory"
    exclude: tuple[DataMedia, ...] = ()  # source tables no pair takes, whatever the pairs' patterns say
    channel: str = field(default="", eq=False)  # the channel this pipeline belongs to (set on load)
    two_way: bool = field(default=False, eq=False)  # its channel has two pipelines (loopback marks on)
    home: bool = False  # two-way: this pipeline reads the home side, whose rows win (loopback remedy)
    snapshot: SnapshotSettings | None = None  # initial load on the first start (None: no automatic load)

    @property
    def marks_loopback(self) -> bool:
        """Whether the loader writes a ``retl.retl_mark`` row into every transaction it applies."""
        return self.two_way or self.parameters.loopback_mark

    @property
    def detects_conflicts(self) -> bool:
        """Whether some pair has a conflict policy (the selector then keeps before images)."""
        return any(p.conflict is not None for p in self.pairs)

    def pair_for(self, schema: str, table: str) -> list[DataMediaPair]:
        """The pairs that take this source table: pairs naming it exactly win over pattern pairs
        (``shop.orders`` overrides ``shop.*``); several exact pairs mean 1:n; an ``exclude`` pattern
        that matches takes the table out of every pair."""
        if any(media.matches(schema, table) for media in self.exclude):
            return []
        matched = [p for p in self.pairs if p.source.matches(schema, table)]
        exact = [p for p in matched if not p.source.is_pattern]
        return exact or matched


@frozen
class Channel:
    """One business sync: one pipeline (one-way) or two (two-way)."""

    name: str
    pipelines: tuple[Pipeline, ...]


@frozen
class OtterConfig:
    """Everything one YAML file describes."""

    sources: Mapping[str, DataMediaSource]
    channels: tuple[Channel, ...]

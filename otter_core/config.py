"""The pipeline YAML: parsing and validation into the attrs model. Every error names file:line and key."""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any

import attrs

from otter_core.conflict_policy import channel_problem, parse_policy
from otter_core.engine.convert import CONVERTERS
from otter_core.engine.row_filter import RowFilter
from otter_core.errors import ConfigError
from otter_core.model import (
    Channel,
    ColumnGroup,
    ColumnPair,
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
from otter_core.yaml_lines import LineDict, load_yaml

SOURCE_KEYS = {"type", "host", "port", "user", "password", "password_env", "encoding", "options"}
PIPELINE_KEYS = {
    "name",
    "source",
    "target",
    "start",
    "pairs",
    "parameters",
    "selector",
    "loader",
    "pipe",
    "arbitrator",
    "exclude",
    "home",
    "snapshot",
}
PAIR_KEYS = {
    "source",
    "target",
    "target_source",
    "columns",
    "column_mode",
    "column_groups",
    "push_weight",
    "processors",
    "processor_options",
    "filter",
    "file_resolver",
    "conflict",
}
PARAMETER_FIELDS = {f.name: f for f in attrs.fields(PipelineParameters)}


class _Reader:
    """Reads one YAML document, carrying the file name for error messages."""

    def __init__(self, filename: str) -> None:
        self.filename = filename

    def fail(self, node: Any, key: str | None, path: str, message: str) -> ConfigError:
        line = 0
        if isinstance(node, LineDict):
            line = node.lines.get(key, node.line) if key is not None else node.line
        where = f"{self.filename}:{line}" if line else self.filename
        return ConfigError(f"{where}: {path}: {message}")

    def mapping(
        self, node: Any, path: str, allowed: set[str], parent: Any = None, key: Any = None
    ) -> dict[str, Any]:
        if not isinstance(node, dict):
            raise self.fail(
                parent if parent is not None else node,
                key,
                path,
                f"expected a mapping, got {type(node).__name__}",
            )
        for name in node:
            if name not in allowed:
                close = difflib.get_close_matches(str(name), sorted(allowed), n=1)
                hint = (
                    f" (did you mean {close[0]!r}?)" if close else f" (allowed: {', '.join(sorted(allowed))})"
                )
                raise self.fail(node, name, f"{path}.{name}", f"unknown key{hint}")
        return node

    def require(self, node: dict[str, Any], key: str, path: str) -> Any:
        if key not in node or node[key] in (None, ""):
            raise self.fail(node, None, f"{path}.{key}", "is required")
        return node[key]

    def sources(self, node: Any) -> dict[str, DataMediaSource]:
        if not isinstance(node, dict) or not node:
            raise self.fail(node, None, "sources", "expected a mapping of source names to settings")
        result = {}
        for name, spec in node.items():
            path = f"sources.{name}"
            spec = self.mapping(spec, path, SOURCE_KEYS, node, name)
            password = spec.get("password", "")
            if "password_env" in spec:
                password = os.environ.get(str(spec["password_env"]))
                if password is None:
                    raise self.fail(
                        spec,
                        "password_env",
                        f"{path}.password_env",
                        f"environment variable {spec['password_env']!r} is not set",
                    )
            port = spec.get("port", 3306)
            if not isinstance(port, int) or not 0 < port < 65536:
                raise self.fail(spec, "port", f"{path}.port", f"expected a port number, got {port!r}")
            result[name] = DataMediaSource(
                name=name,
                type=str(self.require(spec, "type", path)),
                host=str(spec.get("host", "127.0.0.1")),
                port=port,
                user=str(spec.get("user", "root")),
                password=str(password or ""),
                encoding=str(spec.get("encoding", "utf8mb4")),
                options=dict(spec.get("options") or {}),
            )
        return result

    def media(self, value: Any, node: dict[str, Any], key: str, path: str) -> DataMedia:
        if isinstance(value, dict):
            return DataMedia(str(value.get("schema", "*")), str(value.get("name", "*")))
        text = str(value)
        if "." not in text:
            raise self.fail(node, key, path, f"expected 'schema.table', got {text!r}")
        schema, name = text.split(".", 1)
        return DataMedia(schema, name)

    def pair(self, node: Any, path: str, sources: dict) -> DataMediaPair:
        if isinstance(node, str):
            node = LineDict(source=node, target=node)
        node = self.mapping(node, path, PAIR_KEYS)
        source = self.media(self.require(node, "source", path), node, "source", f"{path}.source")
        target = self.media(node.get("target", node["source"]), node, "target", f"{path}.target")
        target_source = node.get("target_source")
        if target_source is not None and target_source not in sources:
            raise self.fail(
                node,
                "target_source",
                f"{path}.target_source",
                f"no source named {target_source!r} (known: {', '.join(sources)})",
            )
        column_pairs, mode = self.columns(node, path)
        groups = tuple(ColumnGroup(tuple(str(c) for c in group)) for group in node.get("column_groups") or ())
        weight = node.get("push_weight", 5)
        if not isinstance(weight, int):
            raise self.fail(
                node, "push_weight", f"{path}.push_weight", f"expected an integer, got {weight!r}"
            )
        processors = node.get("processors") or ()
        if isinstance(processors, str):
            processors = (processors,)
        row_filter = node.get("filter")
        if row_filter is not None:
            try:
                RowFilter(str(row_filter), where=f"{path}.filter")
            except ConfigError as exc:
                raise self.fail(node, "filter", f"{path}.filter", str(exc).split(": ", 1)[1]) from None
        options = node.get("processor_options") or {}
        if not isinstance(options, dict) or not all(isinstance(v, dict) for v in options.values()):
            raise self.fail(
                node,
                "processor_options",
                f"{path}.processor_options",
                "expected a mapping of processor name to its options, e.g. {mask: {columns: [email]}}",
            )
        unknown = set(options) - set(str(p) for p in processors)
        if unknown:
            raise self.fail(
                node,
                "processor_options",
                f"{path}.processor_options",
                f"options for {', '.join(sorted(unknown))}, which the pair's processors do not list",
            )
        resolver = node.get("file_resolver")
        resolver_options: dict = {}
        if isinstance(resolver, dict):
            self.mapping(resolver, f"{path}.file_resolver", {"name", "options"}, node, "file_resolver")
            resolver_options = dict(resolver.get("options") or {})
            resolver = self.require(resolver, "name", f"{path}.file_resolver")
        return DataMediaPair(
            source=source,
            target=target,
            target_source=target_source,
            column_pairs=column_pairs,
            column_mode=mode,
            column_groups=groups,
            push_weight=weight,
            processors=tuple(str(p) for p in processors),
            filter=node.get("filter"),
            processor_options={k: dict(v) for k, v in options.items()},
            file_resolver=str(resolver) if resolver else None,
            file_resolver_options=resolver_options,
            conflict=self.conflict(node, path),
        )

    def conflict(self, node: dict[str, Any], path: str) -> Any:
        if node.get("conflict") is None:
            return None
        try:
            return parse_policy(node["conflict"])
        except ValueError as exc:
            raise self.fail(node, "conflict", f"{path}.conflict", str(exc)) from None

    def columns(self, node: dict[str, Any], path: str) -> tuple[tuple[ColumnPair, ...], str]:
        mode = node.get("column_mode", "include")
        if mode not in ("include", "exclude"):
            raise self.fail(
                node, "column_mode", f"{path}.column_mode", f"expected include or exclude, got {mode!r}"
            )
        spec = node.get("columns")
        if spec is None:
            return (), mode
        if isinstance(spec, dict):
            pairs = []
            for source_col, target_spec in spec.items():
                if isinstance(target_spec, dict):
                    type_name = target_spec.get("type")
                    if type_name is not None and str(type_name).lower() not in CONVERTERS:
                        raise self.fail(
                            spec,
                            source_col,
                            f"{path}.columns.{source_col}.type",
                            f"unknown type {type_name!r} (known: {', '.join(sorted(CONVERTERS))})",
                        )
                    pairs.append(
                        ColumnPair(
                            str(source_col),
                            str(target_spec.get("name", source_col)),
                            str(type_name) if type_name is not None else None,
                        )
                    )
                elif isinstance(target_spec, list):  # one source column copied into several target columns
                    pairs.extend(ColumnPair(str(source_col), str(t)) for t in target_spec)
                else:
                    pairs.append(
                        ColumnPair(
                            str(source_col), str(target_spec if target_spec is not None else source_col)
                        )
                    )
            return tuple(pairs), mode
        if isinstance(spec, list):
            return tuple(ColumnPair(str(c), str(c)) for c in spec), mode
        raise self.fail(
            node, "columns", f"{path}.columns", "expected a list of names or a mapping source: target"
        )

    def start(self, node: dict[str, Any], path: str) -> dict[str, Any]:
        value = node.get("start", "current")
        if value == "current":
            return {"kind": StartKind.CURRENT}
        if isinstance(value, dict) and "gtid" in value:
            return {"kind": StartKind.GTID, "gtid": str(value["gtid"])}
        if isinstance(value, dict) and "file" in value:
            pos = value.get("pos", 4)
            if not isinstance(pos, int) or pos < 4:
                raise self.fail(
                    value, "pos", f"{path}.start.pos", f"expected a binlog offset >= 4, got {pos!r}"
                )
            return {"kind": StartKind.POSITION, "file": str(value["file"]), "pos": pos}
        raise self.fail(
            node, "start", f"{path}.start", "expected 'current', {file: NAME, pos: N} or {gtid: 'D-S-N'}"
        )

    def parameters(self, node: Any, path: str, parent: dict[str, Any]) -> PipelineParameters:
        if node is None:
            return PipelineParameters()
        node = self.mapping(node, path, set(PARAMETER_FIELDS), parent, "parameters")
        values: dict[str, Any] = {}
        for key, value in node.items():
            default = PARAMETER_FIELDS[key].default
            if key == "sync_mode":
                try:
                    values[key] = SyncMode(value)
                except ValueError:
                    raise self.fail(
                        node, key, f"{path}.{key}", f"expected row or field, got {value!r}"
                    ) from None
            elif key == "sync_consistency":
                if value not in ("base", "media"):
                    raise self.fail(node, key, f"{path}.{key}", f"expected base or media, got {value!r}")
                values[key] = value
            elif key == "binlog_reader":
                if value not in ("native", "library"):
                    raise self.fail(node, key, f"{path}.{key}", f"expected native or library, got {value!r}")
                values[key] = value
            elif isinstance(default, bool):
                if not isinstance(value, bool):
                    raise self.fail(node, key, f"{path}.{key}", f"expected true or false, got {value!r}")
                values[key] = value
            elif isinstance(default, int) or key == "server_id":
                if not isinstance(value, int) or isinstance(value, bool):
                    raise self.fail(node, key, f"{path}.{key}", f"expected an integer, got {value!r}")
                values[key] = value
        for key in ("parallelism", "batch_size", "load_pool_size", "batch_bytes"):
            if key in values and values[key] < 1:
                raise self.fail(node, key, f"{path}.{key}", f"must be at least 1, got {values[key]}")
        if values.get("batch_timeout_ms", 0) < -1:
            raise self.fail(
                node,
                "batch_timeout_ms",
                f"{path}.batch_timeout_ms",
                "must be -1, 0 or a positive number of ms",
            )
        return PipelineParameters(**values)

    def pipeline(self, node: Any, path: str, sources: dict) -> Pipeline:
        node = self.mapping(node, path, PIPELINE_KEYS)
        for key in ("source", "target"):
            name = self.require(node, key, path)
            if name not in sources:
                raise self.fail(
                    node, key, f"{path}.{key}", f"no source named {name!r} (known: {', '.join(sources)})"
                )
        pairs = node.get("pairs")
        if not isinstance(pairs, list) or not pairs:
            raise self.fail(node, "pairs", f"{path}.pairs", "expected a non-empty list of pairs")
        return Pipeline(
            name=str(self.require(node, "name", path)),
            source=node["source"],
            target=node["target"],
            pairs=tuple(self.pair(p, f"{path}.pairs[{i}]", sources) for i, p in enumerate(pairs)),
            start=self.start(node, path),
            parameters=self.parameters(node.get("parameters"), f"{path}.parameters", node),
            selector=node.get("selector"),
            loader=node.get("loader"),
            pipe=str(node.get("pipe", "memory")),
            arbitrator=str(node.get("arbitrator", "memory")),
            exclude=self.excludes(node, path),
            home=self.flag(node, "home", path),
            snapshot=self.snapshot(node, path),
        )

    def snapshot(self, node: LineDict, path: str) -> SnapshotSettings | None:
        value = node.get("snapshot", False)
        if value is True:
            return SnapshotSettings()
        if value is False or value is None:
            return None
        spec = self.mapping(value, f"{path}.snapshot", {"chunk_rows", "tables"}, node, "snapshot")
        rows = spec.get("chunk_rows", SnapshotSettings().chunk_rows)
        if not isinstance(rows, int) or isinstance(rows, bool) or rows < 1:
            raise self.fail(
                spec,
                "chunk_rows",
                f"{path}.snapshot.chunk_rows",
                f"expected a positive integer, got {rows!r}",
            )
        tables = spec.get("tables") or []
        if isinstance(tables, str):
            tables = [tables]
        if not isinstance(tables, list) or not all(isinstance(t, str) and "." in t for t in tables):
            raise self.fail(
                spec,
                "tables",
                f"{path}.snapshot.tables",
                "expected a list of 'schema.table' names or patterns",
            )
        return SnapshotSettings(chunk_rows=rows, tables=tuple(tables))

    def flag(self, node: LineDict, key: str, path: str) -> bool:
        value = node.get(key, False)
        if not isinstance(value, bool):
            raise self.fail(node, key, f"{path}.{key}", f"expected true or false, got {value!r}")
        return value

    def excludes(self, node: LineDict, path: str) -> tuple[DataMedia, ...]:
        patterns = node.get("exclude") or []
        if isinstance(patterns, str):
            patterns = [patterns]
        if not isinstance(patterns, list):
            raise self.fail(node, "exclude", f"{path}.exclude", "expected a list of 'schema.table' patterns")
        return tuple(self.media(p, node, "exclude", f"{path}.exclude") for p in patterns)

    def document(self, root: Any) -> OtterConfig:
        root = self.mapping(root, "(top)", {"sources", "channels"})
        sources = self.sources(self.require(root, "sources", "(top)"))
        channels_node = self.require(root, "channels", "(top)")
        if not isinstance(channels_node, list):
            raise self.fail(root, "channels", "channels", "expected a list of channels")
        channels = []
        names: set[str] = set()
        for i, ch in enumerate(channels_node):
            path = f"channels[{i}]"
            ch = self.mapping(ch, path, {"name", "pipelines"})
            name = str(self.require(ch, "name", path))
            if name in names:
                raise self.fail(ch, "name", f"{path}.name", f"channel {name!r} is defined twice")
            names.add(name)
            pipelines = self.require(ch, "pipelines", path)
            if not isinstance(pipelines, list):
                raise self.fail(ch, "pipelines", f"{path}.pipelines", "expected a list of pipelines")
            built = [self.pipeline(p, f"{path}.pipelines[{j}]", sources) for j, p in enumerate(pipelines)]
            if sum(p.home for p in built) > 1 or (any(p.home for p in built) and len(built) != 2):
                raise self.fail(
                    ch,
                    "pipelines",
                    f"{path}.pipelines",
                    "home: true goes on exactly one pipeline of a two-way channel (two pipelines)",
                )
            problem = channel_problem(built, sources)
            if problem:
                raise self.fail(ch, "pipelines", f"{path}.pipelines", problem)
            channels.append(
                Channel(name, tuple(attrs.evolve(p, channel=name, two_way=len(built) == 2) for p in built))
            )
        return OtterConfig(sources=sources, channels=tuple(channels))


def load_config_text(text: str, filename: str = "<config>") -> OtterConfig:
    root = load_yaml(text, filename)
    if root is None:
        raise ConfigError(f"{filename}: the file is empty; see docs/configuration.md for an example")
    return _Reader(filename).document(root)


def load_config_file(path: str | os.PathLike) -> OtterConfig:
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    return load_config_text(text, str(path))

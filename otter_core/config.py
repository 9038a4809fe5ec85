"""The pipeline YAML: parsing and validation into the attrs model. Every error names file:line and key.

The base reader is config_reader.py, the pairs config_pairs.py; the defaults of sources, start,
parameters, pipe and arbitrator stay here."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import attrs

from otter_core.config_pairs import PAIR_KEYS, PairReader
from otter_core.conflict_policy import channel_problem
from otter_core.errors import ConfigError
from otter_core.model import (
    Channel,
    DataMedia,
    DataMediaSource,
    OtterConfig,
    Pipeline,
    PipelineParameters,
    SnapshotSettings,
    StartKind,
    SyncMode,
)
from otter_core.yaml_lines import LineDict, load_yaml

__all__ = [
    "PAIR_KEYS",
    "PARAMETER_FIELDS",
    "PIPELINE_KEYS",
    "SOURCE_KEYS",
    "load_config_file",
    "load_config_text",
]

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
PARAMETER_FIELDS = {f.name: f for f in attrs.fields(PipelineParameters)}


class _Reader(PairReader):
    """Reads one YAML document: sources, channels, pipelines and their parameters."""

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
            elif isinstance(default, bool) or key == "select_process":
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

"""The pipeline YAML's pairs: source and target tables, columns, processors, filters and conflict policy.

Split from config.py (one module per part of the document); the defaults of a pair (push_weight 5,
column_mode include) live here."""

from __future__ import annotations

from typing import Any

from otter_core.config_reader import ReaderBase
from otter_core.conflict_policy import parse_policy
from otter_core.engine.convert import CONVERTERS
from otter_core.engine.row_filter import RowFilter
from otter_core.errors import ConfigError
from otter_core.model import ColumnGroup, ColumnPair, DataMediaPair
from otter_core.yaml_lines import LineDict

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


class PairReader(ReaderBase):
    """Reads the pairs of a pipeline."""

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

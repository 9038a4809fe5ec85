"""The YAML reader's base: error messages that name file:line and key, mappings with known keys."""

from __future__ import annotations

import difflib
from typing import Any

from otter_core.errors import ConfigError
from otter_core.model import DataMedia
from otter_core.yaml_lines import LineDict


class ReaderBase:
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

    def media(self, value: Any, node: dict[str, Any], key: str, path: str) -> DataMedia:
        if isinstance(value, dict):
            return DataMedia(str(value.get("schema", "*")), str(value.get("name", "*")))
        text = str(value)
        if "." not in text:
            raise self.fail(node, key, path, f"expected 'schema.table', got {text!r}")
        schema, name = text.split(".", 1)
        return DataMedia(schema, name)

    def flag(self, node: LineDict, key: str, path: str) -> bool:
        value = node.get(key, False)
        if not isinstance(value, bool):
            raise self.fail(node, key, f"{path}.{key}", f"expected true or false, got {value!r}")
        return value

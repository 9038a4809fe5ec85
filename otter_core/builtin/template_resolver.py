"""The ``template`` FileResolver: file paths built from a row's column values.

```yaml
file_resolver:
  name: template
  options: {templates: ["images/{id}.jpg", "thumbs/{shop_id}/{id:08d}.png"],
            source_root: /data/images, target_root: /srv/images}
```
A column that is NULL means the row has no file for that template. Only plain column names (with an
optional format spec) are allowed in a template: no attribute or index look-ups.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any

from otter_core.errors import ConfigError, DataError
from otter_core.hookspecs import hookimpl
from otter_core.model import DataMediaPair, EventData


class TemplateResolver:
    def __init__(self, templates: list[str], where: str) -> None:
        self.where = where
        self.templates = []
        for template in templates:
            try:
                fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
            except ValueError as exc:
                raise ConfigError(f"{where}: template {template!r} is malformed: {exc}") from None
            bad = [f for f in fields if not f.isidentifier()]
            if bad or not fields:
                raise ConfigError(
                    f"{where}: template {template!r} must name columns as {{column}} "
                    f"(found {bad or 'no column'})"
                )
            self.templates.append((template, fields))

    def resolve(self, event: EventData) -> list[str]:
        row = {**event.columns, **event.keys}
        paths = []
        for template, fields in self.templates:
            missing = [f for f in fields if f not in row]
            if missing:
                raise DataError(
                    f"{self.where}: template {template!r} names column {missing[0]!r}, which "
                    f"{event.describe()} does not have: fix the template",
                    retryable=False,
                )
            if any(row[f] is None for f in fields):
                continue
            paths.append(template.format(**{f: row[f] for f in fields}))
        return paths


@hookimpl
def otter_file_resolver(
    name: str, options: Mapping[str, Any], pair: DataMediaPair
) -> TemplateResolver | None:
    if name != "template":
        return None
    where = f"file_resolver 'template' of pair {pair.source}"
    templates = options.get("templates", options.get("template"))
    if isinstance(templates, str):
        templates = [templates]
    if not templates or not all(isinstance(t, str) for t in templates):
        raise ConfigError(
            f"{where}: set options.templates to a list of path templates like 'images/{{id}}.jpg'"
        )
    return TemplateResolver(list(templates), where)

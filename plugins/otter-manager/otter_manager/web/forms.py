"""Turning a submitted HTML form (all strings) into the typed body the config services take.

The services validate meaning (names, plugins, references); this module only converts the shapes a form
cannot carry: numbers, ids, check boxes, and structured values written as YAML (or JSON, which is YAML) in a
text area. A value that does not convert raises the services' own ``ValidationProblem`` on that field, so
the page shows it beside the field like any other problem.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from otter_manager.security import ValidationProblem


def text(form: Mapping[str, Any], name: str) -> str | None:
    """The field's text, None when empty or absent."""
    value = form.get(name)
    return value if isinstance(value, str) and value != "" else None


def integer(form: Mapping[str, Any], name: str) -> int | None:
    """The field as an integer, None when empty."""
    value = text(form, name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise ValidationProblem(name, f"expected a whole number, got {value!r}") from None


def checkbox(form: Mapping[str, Any], name: str) -> bool:
    return form.get(name) in ("1", "on", "true", "yes")


def structured(
    form: Mapping[str, Any], name: str, kinds: tuple[type, ...] = (dict, list, str, bool, int)
) -> Any:
    """A YAML/JSON text area as a value (None when empty); its type must be one of ``kinds``."""
    value = text(form, name)
    if value is None:
        return None
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise ValidationProblem(
            name, f"not valid YAML or JSON{where}: {getattr(exc, 'problem', exc)}"
        ) from None
    if parsed is not None and not isinstance(parsed, kinds):
        wanted = " or ".join(k.__name__.replace("dict", "mapping").replace("str", "text") for k in kinds)
        raise ValidationProblem(name, f"expected a {wanted}, got {type(parsed).__name__}")
    return parsed


def name_list(form: Mapping[str, Any], name: str) -> list[str]:
    """Comma- or line-separated names as a list (empty: [])."""
    value = text(form, name) or ""
    return [part.strip() for part in value.replace("\n", ",").split(",") if part.strip()]


def as_yaml(value: Any, one_line: bool = False) -> str:
    """A structured value back into its text area, block style (``one_line``: flow style for an input);
    empty for None and empty containers."""
    if value in (None, {}, []):
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, int, float)):
        return str(value).lower() if isinstance(value, bool) else str(value)
    return yaml.safe_dump(
        value, default_flow_style=True if one_line else False, sort_keys=False, width=1000
    ).strip()


def without_none(values: dict[str, Any]) -> dict[str, Any]:
    """The body without the fields left empty, so the services apply their defaults."""
    return {key: value for key, value in values.items() if value is not None}

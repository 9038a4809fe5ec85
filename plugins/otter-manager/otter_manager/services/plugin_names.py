"""Which plugins are installed, by kind, so the config API can refuse unknown names up front (422)."""

from __future__ import annotations

from importlib import metadata

from otter_core.plugins import NAMESPACES
from otter_core.spi import OtterError
from otter_manager.security import ValidationProblem


def installed(*kinds: str) -> list[str]:
    """Sorted entry-point names of the given kinds (``selector``, ``loader``, ``processor``...), not imported."""
    names = {ep.name for kind in kinds for ep in metadata.entry_points(group=NAMESPACES[kind])}
    return sorted(names)


def check_plugin(field: str, name: object, *kinds: str) -> None:
    """Raise ValidationProblem on ``field`` unless ``name`` is an installed plugin of one of ``kinds``."""
    known = installed(*kinds)
    if isinstance(name, str) and name in known:
        return
    label = " or ".join(kinds)
    raise ValidationProblem(
        field,
        f"unknown {label} plugin {name!r}: installed are {', '.join(known) or 'none'} "
        f"(`otter-run plugins` lists them; install the package that provides it)",
    )


def config_problem(exc: OtterError, prefix: str) -> ValidationProblem:
    """A ConfigError of ``otter_core.config``'s reader ("<where>: <path>: <message>") as a field problem;
    the path loses its leading ``prefix.``."""
    parts = str(exc).split(": ", 2)
    if len(parts) < 3:
        return ValidationProblem(prefix, str(exc))
    path, message = parts[1], parts[2]
    if path == prefix:
        return ValidationProblem(prefix, message)
    return ValidationProblem(path[len(prefix) + 1 :] if path.startswith(prefix + ".") else path, message)

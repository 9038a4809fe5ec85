"""Checking and compiling the Python source text of a dynamic EventProcessor or FileResolver.

``validate`` never runs the text: it parses it and checks that it defines the hook function at top
level with one positional parameter. That is what the manager calls on an upload, so a web process
never executes code it was sent. ``compile_hook`` does run the module body (imports, constants) and is
called by the pipeline that will run the hook anyway.
"""

from __future__ import annotations

import ast
import builtins
import hashlib
import traceback
from collections.abc import Callable, Mapping
from typing import Any

from attrs import frozen

from otter_core.spi import ConfigError

# kind -> the function the source must define, and what it is called with
HOOKS = {"processor": "process", "file_resolver": "resolve"}
SIGNATURES = {
    "processor": "def process(event): ... return event (or None to drop it)",
    "file_resolver": "def resolve(event): ... return [file references]",
}
MAX_SOURCE_BYTES = 256 * 1024


@frozen
class Problem:
    """One thing wrong with a source text: 1-based ``line`` (0 when it concerns the whole text)."""

    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


class InvalidSource(ConfigError):
    """A source text that cannot become a hook; ``problems`` lists each with its line."""

    def __init__(self, name: str, problems: list[Problem]) -> None:
        super().__init__(f"dynamic {name!r}: " + "; ".join(map(str, problems)))
        self.problems = problems


def source_digest(source: str) -> str:
    """The identity of a source text (sha256 of its UTF-8 bytes)."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def filename_of(name: str, version: int | str) -> str:
    """The file name tracebacks show for a stored version (``<dynamic price-fix v3>``)."""
    return f"<dynamic {name} v{version}>"


def validate(source: str, kind: str = "processor", name: str = "source") -> list[Problem]:
    """Every problem of ``source`` as a ``kind`` hook, without running it (empty list: valid).

    A syntax error comes back with its line and column; a missing or misshapen hook function names
    the signature expected."""
    if kind not in HOOKS:
        return [Problem(0, 0, f"unknown kind {kind!r}: expected one of {', '.join(HOOKS)}")]
    if not isinstance(source, str) or not source.strip():
        return [Problem(0, 0, f"the source is empty: define {SIGNATURES[kind]}")]
    if len(source.encode("utf-8")) > MAX_SOURCE_BYTES:
        return [
            Problem(
                0,
                0,
                f"the source is larger than {MAX_SOURCE_BYTES} bytes: put big code in a "
                "pip-installed EventProcessor plugin instead",
            )
        ]
    try:
        tree = ast.parse(source, filename=filename_of(name, "?"))
    except SyntaxError as exc:
        return [Problem(exc.lineno or 0, exc.offset or 0, f"syntax error: {exc.msg}")]
    hook = HOOKS[kind]
    found = [
        node
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == hook
    ]
    if not found:
        assigned = any(
            isinstance(node, ast.Assign) and any(getattr(t, "id", None) == hook for t in node.targets)
            for node in tree.body
        )
        if not assigned:
            return [Problem(0, 0, f"no top-level function {hook!r}: define {SIGNATURES[kind]}")]
        return []  # `process = SomeClass().process`: checked when compiled
    node = found[-1]
    if isinstance(node, ast.AsyncFunctionDef):
        return [Problem(node.lineno, node.col_offset + 1, f"{hook} must be a plain function, not async")]
    args = node.args
    positional = args.posonlyargs + args.args
    required = len(positional) - len(args.defaults)
    if args.vararg is None and (not positional or required > 1):
        return [
            Problem(
                node.lineno,
                node.col_offset + 1,
                f"{hook} must take exactly one argument (the event), it takes {required}: {SIGNATURES[kind]}",
            )
        ]
    if any(d is None for d in args.kw_defaults):
        return [
            Problem(node.lineno, node.col_offset + 1, f"{hook} has a keyword-only parameter without default")
        ]
    return []


def compile_hook(
    source: str, kind: str, name: str, version: int | str, options: Mapping[str, Any] | None = None
) -> Callable[[Any], Any]:
    """Run the module body of ``source`` in a fresh namespace and return its hook function.

    The module sees ``options`` (the YAML's ``options`` of this dynamic hook) and ``NAME``/``VERSION``.
    Raises ``InvalidSource`` with line numbers for a text that does not validate or whose body raises.
    """
    problems = validate(source, kind, name)
    if problems:
        raise InvalidSource(name, problems)
    filename = filename_of(name, version)
    module_name = f"otter_dynamic_{name}_v{version}".replace("-", "_").replace(".", "_")
    namespace: dict[str, Any] = {
        "__name__": module_name,
        "__builtins__": builtins,
        "options": dict(options or {}),
        "NAME": name,
        "VERSION": version,
    }
    try:
        code = compile(source, filename, "exec")
        exec(code, namespace)  # running user code is this plugin's purpose (docs/dynamic.md)
    except SyntaxError as exc:  # e.g. a `return` outside a function, found only by the compiler
        raise InvalidSource(
            name, [Problem(exc.lineno or 0, exc.offset or 0, f"syntax error: {exc.msg}")]
        ) from None
    except Exception as exc:
        raise InvalidSource(
            name, [Problem(error_line(exc, filename), 0, f"running the module body raised {exc!r}")]
        ) from None
    hook = namespace.get(HOOKS[kind])
    if not callable(hook):
        raise InvalidSource(
            name, [Problem(0, 0, f"{HOOKS[kind]!r} is not callable: define {SIGNATURES[kind]}")]
        )
    return hook


def error_line(exc: BaseException, filename: str) -> int:
    """The deepest line of ``filename`` in ``exc``'s traceback (0 when the source is not in it)."""
    line = 0
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == filename:
            line = frame.lineno or 0
    return line


def describe_failure(exc: BaseException, name: str, version: int | str) -> str:
    """``exc`` raised inside a hook, as text naming the dynamic hook's version and line."""
    line = error_line(exc, filename_of(name, version))
    where = f" at line {line}" if line else ""
    return f"dynamic {name!r} v{version}{where}: {exc!r}"

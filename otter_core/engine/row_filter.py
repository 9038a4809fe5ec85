"""Row filters of a pair: a small, safe expression over the row's column values.

``filter: "status == 'paid' and amount >= 100"`` keeps the rows for which the expression is true. Only
comparisons, boolean logic, arithmetic, constants, column names, ``in``/``not in``, ``is None`` and the
functions ``lower``/``upper``/``len`` are allowed; anything else is refused when the pipeline starts.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from typing import Any

from otter_core.errors import ConfigError

_COMPARE = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
}
_BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Mod: operator.mod,
}
_FUNCTIONS: dict[str, Callable[[Any], Any]] = {
    "lower": lambda v: v.lower() if isinstance(v, str) else v,
    "upper": lambda v: v.upper() if isinstance(v, str) else v,
    "len": lambda v: len(v) if v is not None else 0,
}

Row = Mapping[str, Any]


class RowFilter:
    """A compiled filter; ``matches(row)`` is True when the row should be synced."""

    def __init__(self, expression: str, where: str = "filter") -> None:
        self.expression = expression
        try:
            tree = ast.parse(expression, mode="eval")
        except SyntaxError as exc:
            raise ConfigError(
                f"{where}: {expression!r} is not a valid expression at column {exc.offset}: {exc.msg}"
            ) from None
        self._evaluate = self._compile(tree.body, where)
        self.columns = sorted(
            {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
            - set(_FUNCTIONS)
            - {"None", "True", "False"}
        )

    def matches(self, row: Row) -> bool:
        return bool(self._evaluate(row))

    def _compile(self, node: ast.AST, where: str) -> Callable[[Row], Any]:
        if isinstance(node, ast.Constant):
            value = node.value
            return lambda row: value
        if isinstance(node, ast.Name):
            name = node.id
            if name in ("None", "True", "False"):
                constant = {"None": None, "True": True, "False": False}[name]
                return lambda row: constant

            def column(row: Row) -> Any:
                if name not in row:
                    raise KeyError(name)
                return row[name]

            return column
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            items = [self._compile(e, where) for e in node.elts]
            return lambda row: tuple(i(row) for i in items)
        if isinstance(node, ast.BoolOp):
            parts = [self._compile(v, where) for v in node.values]
            if isinstance(node.op, ast.And):
                return lambda row: all(p(row) for p in parts)
            return lambda row: any(p(row) for p in parts)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.USub)):
            inner = self._compile(node.operand, where)
            if isinstance(node.op, ast.Not):
                return lambda row: not inner(row)
            return lambda row: -inner(row)
        if isinstance(node, ast.Compare) and all(type(op) in _COMPARE for op in node.ops):
            left = self._compile(node.left, where)
            rights = [self._compile(c, where) for c in node.comparators]
            ops = [_COMPARE[type(op)] for op in node.ops]

            def compare(row: Row) -> bool:
                current = left(row)
                for op, right in zip(ops, rights):
                    nxt = right(row)
                    if current is None or nxt is None:
                        if op not in (operator.is_, operator.is_not, operator.eq, operator.ne):
                            return False  # SQL-like: NULL never compares
                    if not op(current, nxt):
                        return False
                    current = nxt
                return True

            return compare
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            left, right, op = (
                self._compile(node.left, where),
                self._compile(node.right, where),
                _BINARY[type(node.op)],
            )
            return lambda row: op(left(row), right(row))
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in _FUNCTIONS
            and len(node.args) == 1
            and not node.keywords
        ):
            fn, arg = _FUNCTIONS[node.func.id], self._compile(node.args[0], where)
            return lambda row: fn(arg(row))
        raise ConfigError(
            f"{where}: {ast.unparse(node)!r} is not allowed in a filter "
            f"(use comparisons, and/or/not, arithmetic, in, lower/upper/len)"
        )

"""Pair row filters: safe expressions over column values."""

import pytest

from otter_core.engine.row_filter import RowFilter
from otter_core.errors import ConfigError


def test_comparison_and_boolean_logic():
    f = RowFilter("status == 'paid' and amount >= 100")
    assert f.matches({"status": "paid", "amount": 100})
    assert not f.matches({"status": "paid", "amount": 99})
    assert not f.matches({"status": "new", "amount": 1000})


def test_in_lists_functions_and_none():
    f = RowFilter("lower(region) in ('eu', 'us') and deleted_at is None")
    assert f.matches({"region": "EU", "deleted_at": None})
    assert not f.matches({"region": "ap", "deleted_at": None})


def test_null_never_satisfies_an_ordering_comparison():
    assert not RowFilter("amount > 5").matches({"amount": None})


def test_function_calls_attributes_and_imports_are_refused():
    for text in ("__import__('os').system('true')", "row.__class__", "open('x')", "[c for c in x]"):
        with pytest.raises(ConfigError, match="not allowed"):
            RowFilter(text, where="pairs[0].filter")


def test_syntax_error_names_the_filter():
    with pytest.raises(ConfigError, match="pairs\\[2\\].filter"):
        RowFilter("amount >", where="pairs[2].filter")


def test_columns_are_listed():
    assert RowFilter("a > 1 or lower(b) == 'x'").columns == ["a", "b"]

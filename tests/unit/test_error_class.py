"""Every exception has one of three classes, which decide what the pipeline does after it."""

import pytest

from otter_core.engine.extract import ProcessorError
from otter_core.errors import (
    DETERMINISTIC,
    TRANSIENT,
    UNKNOWN,
    ConfigError,
    LoadError,
    OtterError,
    PipeError,
    error_class,
)


@pytest.mark.parametrize(
    "exc, expected",
    [
        (ConfigError("bad key"), DETERMINISTIC),
        (ProcessorError("raised"), DETERMINISTIC),
        (LoadError("refused", retryable=False), DETERMINISTIC),
        (LoadError("deadlock", transient=True), TRANSIENT),
        (LoadError("something"), UNKNOWN),
        (OtterError("x", retryable=False, transient=False), DETERMINISTIC),
        (PipeError("peer unreachable"), TRANSIENT),
        (PipeError("token refused", retryable=False), DETERMINISTIC),
        (ConnectionRefusedError(111, "refused"), TRANSIENT),
        (TimeoutError(), TRANSIENT),
        (ValueError("?"), UNKNOWN),
    ],
)
def test_error_class(exc, expected):
    assert error_class(exc) == expected
    assert getattr(exc, "retryable", expected != DETERMINISTIC) == (expected != DETERMINISTIC)

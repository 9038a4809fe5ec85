"""The one retry policy both runners use (engine/retry.py): what each error class means for the next try."""

from otter_core.engine.retry import MAX_BACKOFF_SECONDS, RetryPolicy
from otter_core.errors import ConfigError, LoadError, OtterError


def policy(retry_max=3, retry_max_transient=0, backoff_ms=1000):
    return RetryPolicy(retry_max, retry_max_transient, backoff_ms)


def test_a_deterministic_error_stops_at_once():
    verdict = policy().failed(ConfigError("binlog_format is STATEMENT"))
    assert verdict.kind == "deterministic" and verdict.stop and verdict.why() == "deterministic"


def test_an_unknown_error_stops_after_retry_max_in_a_row_with_a_doubling_backoff():
    retries = policy()
    first, second, third = (retries.failed(RuntimeError("odd")) for _ in range(3))
    assert first.kind == "unknown" and not first.stop and not second.stop and third.stop
    assert (first.delay, second.delay) == (1.0, 2.0) and third.bound == 3
    assert third.why() == "unknown, 3 failed attempt(s) in a row"


def test_a_loaded_batch_starts_the_count_again():
    retries = policy()
    retries.failed(RuntimeError("odd"))
    retries.failed(RuntimeError("odd"))
    retries.progressed()
    verdict = retries.failed(RuntimeError("odd"))
    assert verdict.failures == 1 and not verdict.stop and verdict.delay == 1.0


def test_a_transient_error_is_retried_as_long_as_it_lasts_with_a_capped_backoff():
    retries = policy(retry_max=2)
    verdicts = [retries.failed(LoadError("lost connection", transient=True)) for _ in range(20)]
    assert all(v.kind == "transient" and not v.stop for v in verdicts)
    assert verdicts[-1].delay == MAX_BACKOFF_SECONDS and verdicts[-1].bound == 0


def test_retry_max_transient_bounds_transient_errors():
    retries = policy(retry_max_transient=2)
    assert not retries.failed(OtterError("deadlock", transient=True)).stop
    assert retries.failed(OtterError("deadlock", transient=True)).stop

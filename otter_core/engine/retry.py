"""The retry policy of every runner: what a failed run's error class means for the next attempt.

*deterministic*: stop at once; *transient*: retry with backoff, at most ``retry_max_transient`` times in
a row (0: as long as it lasts); *unknown*: at most ``retry_max`` times in a row. "In a row": a loaded
batch starts the count again. The backoff doubles from ``retry_backoff_ms`` up to ``MAX_BACKOFF_SECONDS``.
"""

from __future__ import annotations

import attrs

from otter_core.errors import DETERMINISTIC, TRANSIENT, error_class
from otter_core.model import PipelineParameters

MAX_BACKOFF_SECONDS = 30.0


@attrs.frozen
class Verdict:
    """What to do after one failure."""

    kind: str  # the error class (otter_core.errors)
    failures: int  # failed attempts in a row, this one included
    bound: int  # the attempts allowed in a row for this class (0: no bound)
    stop: bool  # give up: the pipeline fails with the error
    delay: float  # seconds to wait before the next attempt (when not stopping)

    def why(self) -> str:
        """Why the pipeline stops, for the log."""
        return (
            self.kind
            if self.kind == DETERMINISTIC
            else f"{self.kind}, {self.failures} failed attempt(s) in a row"
        )


@attrs.define
class RetryPolicy:
    """Counts failed attempts in a row and turns each failure into a ``Verdict``."""

    retry_max: int
    retry_max_transient: int
    backoff_ms: int
    failures: int = 0

    @classmethod
    def of(cls, params: PipelineParameters) -> RetryPolicy:
        return cls(params.retry_max, params.retry_max_transient, params.retry_backoff_ms)

    def progressed(self) -> None:
        """A batch was loaded since the last failure: the next one is the first in a row again."""
        self.failures = 0

    def failed(self, exc: BaseException) -> Verdict:
        self.failures += 1
        kind = error_class(exc)
        bound = self.retry_max_transient if kind == TRANSIENT else self.retry_max
        stop = kind == DETERMINISTIC or bool(bound and self.failures >= bound)
        delay = min(self.backoff_ms / 1000.0 * 2 ** (self.failures - 1), MAX_BACKOFF_SECONDS)
        return Verdict(kind, self.failures, bound, stop, delay)

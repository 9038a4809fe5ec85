"""The small exception hierarchy of otter. Every message names the object and the remedy."""

from __future__ import annotations

# The three classes of a failure, which decide what the pipeline does after it (engine/pipeline.py):
DETERMINISTIC = "deterministic"  # would fail the same way again (a refused value, a missing table): stop
TRANSIENT = "transient"  # heals by itself (connection lost, deadlock, read-only): retry with backoff
UNKNOWN = "unknown"  # not classified: retry with backoff, at most ``retry_max`` times in a row


class OtterError(Exception):
    """Base of every error otter raises on purpose.

    ``retryable`` says whether the pipeline should retry (with backoff) after it: a refused connection
    may heal by itself, a binlog in STATEMENT format will not. ``transient`` (implies ``retryable``)
    says it is known to heal by itself, so it is retried beyond ``retry_max`` (``retry_max_transient``).
    """

    retryable = True
    transient = False

    def __init__(
        self, message: str = "", *, retryable: bool | None = None, transient: bool | None = None
    ) -> None:
        super().__init__(message)
        if retryable is not None:
            self.retryable = retryable
        if transient is not None:
            self.transient = transient
            if transient:
                self.retryable = True

    @property
    def error_class(self) -> str:
        return (
            TRANSIENT if self.retryable and self.transient else UNKNOWN if self.retryable else DETERMINISTIC
        )


def error_class(exc: BaseException) -> str:
    """DETERMINISTIC, TRANSIENT or UNKNOWN for any exception: an OtterError says it; a lost or refused
    connection of the OS is transient; anything else is unknown."""
    if isinstance(exc, OtterError):
        return exc.error_class
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return TRANSIENT
    return UNKNOWN


class ConfigError(OtterError):
    """The pipeline YAML (or another setting) is wrong; the message names file:line and key."""

    retryable = False


class SourceError(OtterError):
    """The source database cannot be read as configured (binlog settings, grants, purged logs...)."""


class LoadError(OtterError):
    """A batch could not be applied to a target; the message names table, key and statement kind."""


class Fenced(LoadError):
    """A newer holder took a pipeline's loads over on the target (ZooKeeper mode, ``fencing_token``): this
    stage must stop. Not retried: the node gives the stage up and contends again."""

    retryable = False

    @classmethod
    def newer(cls, label: str, pipeline: str, token: int, current: int, table: str) -> Fenced:
        return cls(
            f"{label}: the loads of pipeline {pipeline} were taken over by a newer holder (fencing token "
            f"{current} in {table}, this node holds {token}): this node stops the stage. If ZooKeeper's "
            f"data was reset, the tokens start again from 1: delete that row on the target"
        )


class PluginNotFound(OtterError):
    """A configured plugin is not installed or failed to import."""

    retryable = False


class DataError(OtterError):
    """A value cannot be carried as configured (conversion, missing key...)."""


class PipeError(OtterError):
    """A batch or file could not be carried between nodes (peer unreachable, batch gone, checksum
    mismatch: retried from the acked position), or the pipe is set up wrongly (token, TLS: not retried).
    ``resumable``: the same call may succeed if made again at once (the gRPC pipe resumes a download)."""

    resumable = False

    transient = True  # retried for as long as it lasts, unless raised with retryable=False


class FileChanged(OtterError):
    """A source file no longer has the size/mtime Extract saw (``size`` None: it is gone); the file loader
    copies the current file instead."""

    def __init__(self, message: str, size: int | None = None, mtime_ns: int | None = None) -> None:
        super().__init__(message)
        self.size = size
        self.mtime_ns = mtime_ns

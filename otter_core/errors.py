"""The small exception hierarchy of otter. Every message names the object and the remedy."""


class OtterError(Exception):
    """Base of every error otter raises on purpose.

    ``retryable`` says whether the pipeline should retry (with backoff) after it: a refused connection
    may heal by itself, a binlog in STATEMENT format will not.
    """

    retryable = True

    def __init__(self, message: str = "", *, retryable: bool | None = None) -> None:
        super().__init__(message)
        if retryable is not None:
            self.retryable = retryable


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
    def newer(cls, label: str, pipeline: str, token: int, current: int, table: str) -> "Fenced":
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


class FileChanged(OtterError):
    """A source file no longer has the size/mtime Extract saw (``size`` None: it is gone); the file loader
    copies the current file instead."""

    def __init__(self, message: str, size: int | None = None, mtime_ns: int | None = None) -> None:
        super().__init__(message)
        self.size = size
        self.mtime_ns = mtime_ns

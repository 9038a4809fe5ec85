"""Extract side of file sync: turn what a FileResolver returns into ``FileRef``s of existing source files."""

from __future__ import annotations

import hashlib
import logging
import os
import posixpath
from collections.abc import Mapping
from typing import Any

from otter_core.contracts import DeletesFiles, FileResolver
from otter_core.errors import ConfigError, DataError
from otter_core.model import DataMediaPair, EventData, EventType, FileAction, FileRef

log = logging.getLogger("otter.files")
MISSING_POLICIES = ("error", "skip")
# Options of every pair with a file_resolver, read by the core (a resolver's own options sit beside them).
FILE_SYNC_OPTIONS = frozenset({"source_root", "target_root", "checksum", "is_delete_required", "missing"})


def file_options(pair: DataMediaPair) -> dict[str, Any]:
    """The pair's file options, checked once (``source_root``, ``target_root``, ``checksum``,
    ``is_delete_required``, ``missing``)."""
    options: Mapping[str, Any] = pair.file_resolver_options
    where = f"file_resolver of pair {pair.source}"
    missing = str(options.get("missing", "error"))
    if missing not in MISSING_POLICIES:
        raise ConfigError(f"{where}: missing must be one of {', '.join(MISSING_POLICIES)}, not {missing!r}")
    return {
        "source_root": options.get("source_root"),
        "target_root": options.get("target_root"),
        "checksum": bool(options.get("checksum", False)),
        "missing": missing,
        "is_delete_required": bool(options.get("is_delete_required", False)),
    }


def safe_relative(path: str, where: str) -> str:
    """``path`` as a normalised relative path; absolute paths and ``..`` are refused (a row must not make
    otter read or write outside the roots)."""
    text = str(path).replace("\\", "/")
    norm = posixpath.normpath(text)
    if not text or text.startswith("/") or norm == ".." or norm.startswith("../") or norm == ".":
        raise DataError(
            f"{where}: file path {path!r} is not a relative path inside the root: "
            f"fix the FileResolver or its template",
            retryable=False,
        )
    return norm


def file_checksum(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def collect_files(
    resolver: FileResolver, pair: DataMediaPair, event: EventData, options: dict[str, Any] | None = None
) -> tuple[FileRef, ...]:
    """The files of ``event``: for an INSERT/UPDATE the source files as they are now (size, mtime,
    checksum when configured); for a DELETE, delete actions only when the pair sets
    ``is_delete_required``. Raises ``DataError`` naming the row and file when a file is missing (retried:
    files often arrive after their row) unless ``missing: skip``."""
    options = options or file_options(pair)
    deleting = event.event_type is EventType.DELETE
    delete_required = options["is_delete_required"] or (
        isinstance(resolver, DeletesFiles) and bool(resolver.is_delete_required)
    )
    if deleting and not delete_required:
        return ()
    refs = []
    for found in resolver.resolve(event):
        ref = _as_ref(found, options, pair, event)
        if deleting:
            refs.append(FileRef(ref.path, ref.source_root, ref.target_root, action=FileAction.DELETE))
            continue
        source = os.path.join(ref.source_root, ref.path)
        try:
            st = os.stat(source)
        except FileNotFoundError:
            message = f"file {source!r} of {event.describe()} (pair {pair.source}) does not exist"
            if options["missing"] == "skip":
                log.warning("%s: row loaded without it (missing: skip)", message)
                continue
            raise DataError(
                f"{message}: otter retries until it appears; set `missing: skip` in the pair's "
                f"file_resolver options to load the row without it"
            ) from None
        checksum = file_checksum(source) if options["checksum"] else None
        refs.append(FileRef(ref.path, ref.source_root, ref.target_root, st.st_size, st.st_mtime_ns, checksum))
    return tuple(refs)


def _as_ref(found: Any, options: dict[str, Any], pair: DataMediaPair, event: EventData) -> FileRef:
    where = f"FileResolver {pair.file_resolver!r} of pair {pair.source} on {event.describe()}"
    if isinstance(found, FileRef):
        return FileRef(safe_relative(found.path, where), found.source_root, found.target_root)
    source_root, target_root = options["source_root"], options["target_root"]
    if not source_root or not target_root:
        raise ConfigError(
            f"{where}: returned the path {found!r} but the pair's file_resolver options have no "
            f"source_root and target_root: add both"
        )
    return FileRef(safe_relative(str(found), where), str(source_root), str(target_root))

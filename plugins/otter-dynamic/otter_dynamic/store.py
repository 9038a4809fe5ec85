"""A versioned store of dynamic hook sources: one directory per name, one file per version.

```
STORE/<name>/v000003.py     the source text of version 3 (never changed once written)
STORE/<name>/v000003.json   kind, sha256, author, comment, created_at
STORE/<name>/active         the active version number (replaced atomically: tmp + rename)
STORE/<name>/loaded.json    what a running pipeline compiled last (version, error), for the manager
```
Writers (the manager, ``otter-dynamic push``) and readers (running pipelines) share nothing but the
directory, so a pipeline sees an activation by a ``stat`` of ``active`` between batches. Versions are
numbered by exclusive file creation, so two writers never get the same number.

Code in the store runs with the rights of the otter process: the store refuses a directory, and a version
or ``active`` file, that other users can write to, and a version or ``active`` file that is a symlink (it
could point at anyone's file; see docs/dynamic.md).
"""

from __future__ import annotations

import errno
import json
import os
import re
import stat
import time
from pathlib import Path
from typing import Any

from attrs import frozen

from otter_core.spi import ConfigError
from otter_dynamic.source import HOOKS, InvalidSource, source_digest, validate

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_VERSION_FILE = re.compile(r"^v(\d{6})\.py$")


@frozen
class VersionInfo:
    """One stored version of a dynamic hook."""

    name: str
    version: int
    kind: str
    sha256: str
    author: str
    comment: str
    created_at: float
    active: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "kind": self.kind,
            "sha256": self.sha256,
            "author": self.author,
            "comment": self.comment,
            "created_at": self.created_at,
            "active": self.active,
        }


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


class DynamicStore:
    """The store under ``root`` (created mode 0700 when missing)."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        if not self.root.exists():
            self.root.mkdir(mode=0o700, parents=True)
        check_private(self.root)

    # ---------------------------------------------------------------------------------------- writing

    def push(
        self, name: str, kind: str, source: str, author: str = "", comment: str = "", activate: bool = False
    ) -> int:
        """Validate ``source`` and store it as the next version of ``name``; return the version number.

        Raises ``InvalidSource`` (with each problem's line) and stores nothing when it does not validate,
        and ``ConfigError`` when ``name`` already holds another kind."""
        problems = validate(source, kind, name)
        if problems:
            raise InvalidSource(name, problems)
        folder = self._folder(name, create=True)
        known = self.versions(name)
        if known and known[-1].kind != kind:
            raise ConfigError(f"dynamic {name!r} holds a {known[-1].kind}, not a {kind}: use another name")
        version = known[-1].version + 1 if known else 1
        while True:
            path = folder / f"v{version:06d}.py"
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:  # another writer took this number
                version += 1
                continue
            break
        meta = {
            "kind": kind,
            "sha256": source_digest(source),
            "author": author,
            "comment": comment,
            "created_at": time.time(),
        }
        _write_atomic(folder / f"v{version:06d}.json", json.dumps(meta))
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(source)
            handle.flush()
            os.fsync(handle.fileno())
        if activate:
            self.activate(name, version)
        return version

    def activate(self, name: str, version: int) -> None:
        """Make ``version`` the one running pipelines use (they swap between batches)."""
        folder = self._folder(name)
        if not (folder / f"v{version:06d}.py").exists():
            raise ConfigError(
                f"dynamic {name!r} has no version {version} (versions: "
                f"{', '.join(str(v.version) for v in self.versions(name)) or 'none'})"
            )
        _write_atomic(folder / "active", f"{version}\n")

    def record_loaded(self, name: str, version: int, error: str | None) -> None:
        """A pipeline reports which version it compiled (``error``: why it kept the previous one)."""
        _write_atomic(
            self._folder(name) / "loaded.json",
            json.dumps({"version": version, "error": error, "at": time.time(), "pid": os.getpid()}),
        )

    # ---------------------------------------------------------------------------------------- reading

    def names(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and NAME_RE.match(p.name))

    def versions(self, name: str) -> list[VersionInfo]:
        """Every stored version of ``name``, oldest first (empty when the name is unknown)."""
        folder = self.root / name
        if not NAME_RE.match(name) or not folder.is_dir():
            return []
        active = self.active_version(name)
        found = []
        for path in folder.iterdir():
            match = _VERSION_FILE.match(path.name)
            if not match:
                continue
            number = int(match[1])
            try:
                meta = json.loads((folder / f"v{number:06d}.json").read_text())
            except (OSError, ValueError):  # a push in progress writes the metadata first
                continue
            found.append(
                VersionInfo(
                    name,
                    number,
                    meta["kind"],
                    meta["sha256"],
                    meta.get("author", ""),
                    meta.get("comment", ""),
                    meta["created_at"],
                    number == active,
                )
            )
        return sorted(found, key=lambda v: v.version)

    def source(self, name: str, version: int) -> str:
        path = self._folder(name) / f"v{version:06d}.py"
        try:
            return read_private(path)
        except FileNotFoundError:
            raise ConfigError(f"dynamic {name!r} has no version {version}") from None

    def active_version(self, name: str) -> int | None:
        try:
            return int(read_private(self.root / name / "active").strip())
        except (FileNotFoundError, ValueError):
            return None

    def active_stamp(self, name: str) -> tuple[int, int] | None:
        """A cheap fingerprint of the ``active`` pointer (inode, mtime): changes on every activation."""
        try:
            st = os.stat(self.root / name / "active")
        except FileNotFoundError:
            return None
        return st.st_ino, st.st_mtime_ns

    def loaded(self, name: str) -> dict[str, Any] | None:
        try:
            return json.loads((self._folder(name) / "loaded.json").read_text())
        except (FileNotFoundError, ValueError):
            return None

    def find(self, name: str, source: str) -> VersionInfo | None:
        """The stored version of ``name`` holding exactly ``source`` (None when none does)."""
        digest = source_digest(source)
        return next((v for v in self.versions(name) if v.sha256 == digest), None)

    def _folder(self, name: str, create: bool = False) -> Path:
        if not NAME_RE.match(name or ""):
            raise ConfigError(
                f"dynamic name {name!r} is not valid: use letters, digits, '_', '.', '-' "
                "(at most 64, starting with a letter or digit)"
            )
        folder = self.root / name
        if create and not folder.exists():
            folder.mkdir(mode=0o700)
        elif not folder.is_dir():
            raise ConfigError(
                f"dynamic {name!r} is not in the store {self.root}: push a version first "
                f"(otter-dynamic push --store {self.root} {name} FILE)"
            )
        check_private(folder)
        return folder


def check_private(path: Path) -> None:
    """Refuse a store directory other users could write code into (it would run as otter)."""
    st = path.stat()
    if not stat.S_ISDIR(st.st_mode):
        raise ConfigError(f"dynamic store {path} is not a directory")
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise ConfigError(
            f"dynamic store {path} is writable by other users, and its code runs as otter: "
            f"`chmod go-w {path}`"
        )
    if st.st_uid not in (os.geteuid(), 0):
        raise ConfigError(
            f"dynamic store {path} belongs to uid {st.st_uid}, not to the user running otter "
            f"(uid {os.geteuid()}): `chown` it to that user"
        )


def read_private(path: Path) -> str:
    """The text of ``path``, a regular file of ours that other users cannot write; ConfigError naming the
    remedy for a symlink, another kind of file, a group/world-writable or foreign file. Opened without
    following a symlink and checked on the open file, so nothing can be swapped in between."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ConfigError(
                f"dynamic store file {path} is a symlink: the store holds only its own files "
                f"(remove it and push the version again)"
            ) from None
        raise
    with os.fdopen(fd, "r", encoding="utf-8") as handle:
        st = os.fstat(handle.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise ConfigError(f"dynamic store file {path} is not a regular file")
        if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise ConfigError(
                f"dynamic store file {path} is writable by other users, and its code runs as otter: "
                f"`chmod go-w {path}` after checking its content"
            )
        if st.st_uid not in (os.geteuid(), 0):
            raise ConfigError(
                f"dynamic store file {path} belongs to uid {st.st_uid}, not to the user running otter "
                f"(uid {os.geteuid()}): `chown` it to that user after checking its content"
            )
        return handle.read()


KINDS = tuple(HOOKS)

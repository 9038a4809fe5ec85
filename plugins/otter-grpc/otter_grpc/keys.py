"""Batch keys: everything the receiving node needs to fetch a batch, in one string.

``rpc:HOST:PORT/PIPE_ID/SEQ`` is a small batch, pulled whole in one call;
``file:HOST:PORT/PIPE_ID/SEQ/SIZE/MTIME_NS/SHA256`` a big one, read in chunks over parallel streams and
checked against its size and SHA-256. ``PIPE_ID`` is ``channel.pipeline.NONCE`` (a fresh nonce per pipe
object, so the keys of a restarted sender never collide with old ones); ``HOST:PORT`` the sender's
advertised address (IPv6 in brackets).
"""

from __future__ import annotations

import re

from attrs import frozen

from otter_core.spi import PipeError

KINDS = ("rpc", "file")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def safe_name(name: str) -> str:
    return _UNSAFE.sub("_", name) or "_"


@frozen
class BatchKey:
    kind: str
    address: str
    pipe_id: str
    seq: str
    size: int = 0
    mtime_ns: int = 0
    sha256: str = ""

    @property
    def short(self) -> str:
        """The key without the size and checksum, for messages."""
        return f"{self.kind}:{self.address}/{self.pipe_id}/{self.seq}"

    def __str__(self) -> str:
        base = f"{self.kind}:{self.address}/{self.pipe_id}/{self.seq}"
        return base if self.kind == "rpc" else f"{base}/{self.size}/{self.mtime_ns}/{self.sha256}"


def parse_key(key: str) -> BatchKey:
    try:
        kind, rest = key.split(":", 1)
        address, path = rest.split("/", 1)
        parts = path.split("/")
        if kind == "rpc" and len(parts) == 2:
            return BatchKey(kind, address, parts[0], parts[1])
        if kind == "file" and len(parts) == 5:
            return BatchKey(kind, address, parts[0], parts[1], int(parts[2]), int(parts[3]), parts[4])
    except ValueError:
        pass
    raise PipeError(
        f"{key!r} is not a batch key of the rpc/file pipe (expected rpc:HOST:PORT/PIPE/SEQ or "
        f"file:HOST:PORT/PIPE/SEQ/SIZE/MTIME/SHA256)",
        retryable=False,
    )


def short_key(key: str) -> str:
    try:
        return parse_key(key).short
    except PipeError:
        return key

"""The ``rpc`` and ``file`` pipes: the sending node keeps each batch, the receiving node pulls it by key.

``rpc``: a batch whose encoded size is at most ``pipe_threshold_bytes`` is pulled whole in one call; a
bigger one is spooled to a file and read like ``file``. ``file``: every batch is spooled and read in
1 MiB chunks over ``pipe_streams`` parallel streams, compressed when it pays, each chunk CRC-checked, the
whole checked against its size and SHA-256, resumed chunk by chunk after a broken stream. The files a
batch's rows refer to are registered with the batch and read by the receiver's file loader the same way.
"""

from __future__ import annotations

import itertools
import logging
import os
import secrets
import shutil
import threading
from typing import Any

from otter_core.spi import FileRef, NodeContext, PipeError, Pipeline, batch_files, fetch_file, hookimpl
from otter_grpc.client import GrpcFileSource, PipeClient
from otter_grpc.codec import BatchCodec
from otter_grpc.keys import BatchKey, parse_key, safe_name
from otter_grpc.server import NodeServer
from otter_grpc.store import PipeStore

log = logging.getLogger("otter.grpc")
FETCH_ATTEMPTS = 3  # a big batch whose stream breaks is resumed (missing chunks only) this many times

_local_node: NodeContext | None = None
_local_lock = threading.Lock()


def local_node() -> NodeContext:
    """The node context of a single process (``otter-run run`` with ``pipe: rpc``): loopback, any free
    port, a random token for this process only."""
    global _local_node
    with _local_lock:
        if _local_node is None:
            _local_node = NodeContext(node_id=f"local-{os.getpid()}", auth_token=secrets.token_urlsafe(24))
        return _local_node


class GrpcPipe:
    def __init__(self, pipeline: Pipeline, node: NodeContext | None, kind: str) -> None:
        self.pipeline = pipeline
        self.node = node or local_node()
        self.kind = kind
        params = pipeline.parameters
        self.threshold = params.pipe_threshold_bytes if kind == "rpc" else -1
        self.streams = max(1, params.pipe_streams)
        self.codec = BatchCodec(pipeline)
        self.pipe_id = f"{safe_name(pipeline.channel)}.{safe_name(pipeline.name)}.{secrets.token_hex(4)}"
        self._seq = itertools.count(1)
        self._server: NodeServer | None = None
        self._store: PipeStore | None = None
        self._lock = threading.Lock()
        self._clients: dict[str, PipeClient] = {}
        self._inbox = os.path.join(self.node.spool_dir, "in", self.pipe_id)

    # sending side ------------------------------------------------------------------------------------
    def _serving(self) -> tuple[NodeServer, PipeStore]:
        with self._lock:
            server, store = self._server, self._store
            if server is None or store is None:  # both set together, here
                server = NodeServer.acquire(self.node)
                store = PipeStore(self.pipe_id, self.node.spool_dir)
                server.register(self.pipe_id, store)
                self._server, self._store = server, store
            return server, store

    def put(self, batch: Any) -> str:
        data = self.codec.encode(batch)
        server, store = self._serving()
        seq = str(next(self._seq))
        files = batch_files(batch)
        if len(data) <= self.threshold:
            store.put_small(seq, data, files)
            return str(BatchKey("rpc", server.address, self.pipe_id, seq))
        size, mtime_ns, sha256 = store.put_big(seq, data, files)
        return str(BatchKey("file", server.address, self.pipe_id, seq, size, mtime_ns, sha256))

    # receiving side ----------------------------------------------------------------------------------
    def _client(self, address: str) -> PipeClient:
        with self._lock:
            if address not in self._clients:
                self._clients[address] = PipeClient(self.node, address)
            return self._clients[address]

    def get(self, key: str) -> Any:
        parsed = parse_key(key)
        client = self._client(parsed.address)
        if parsed.kind == "rpc":
            return self.codec.decode(client.pull(key))
        return self.codec.decode(self._fetch_big(client, parsed, key))

    def _fetch_big(self, client: PipeClient, parsed: BatchKey, key: str) -> bytes:
        ref = FileRef(f"{parsed.seq}.batch", "", self._inbox, parsed.size, parsed.mtime_ns, parsed.sha256)
        target = os.path.join(self._inbox, ref.path)

        def read(_ref: FileRef, offset: int, length: int) -> Any:
            return client.read(key, None, offset, length, parsed.size, parsed.mtime_ns)

        for attempt in range(1, FETCH_ATTEMPTS + 1):
            try:
                fetch_file(ref, read, target, self.streams)
                break
            except PipeError as exc:
                if not getattr(exc, "resumable", False) or attempt == FETCH_ATTEMPTS:
                    raise
                log.warning("%s; resuming the missing chunks (attempt %d)", exc, attempt + 1)
        try:
            with open(target, "rb") as handle:
                return handle.read()
        finally:
            os.unlink(target)
            client.release([key], batch_only=True)  # the batch's row files are read after this

    def files(self, key: str) -> GrpcFileSource:
        parsed = parse_key(key)
        return GrpcFileSource(self._client(parsed.address), key)

    def discard(self, key: str) -> None:
        """Sender side: a rollback voided this batch (the receiver will never ask for it): free it now."""
        parsed = parse_key(key)
        store = self._store
        if store is not None and parsed.pipe_id == self.pipe_id:
            store.release(parsed.seq)

    def close(self) -> None:
        with self._lock:
            server, store, self._server, self._store = self._server, self._store, None, None
        if store is not None:
            store.close()
        if server is not None:
            server.unregister(self.pipe_id)
        shutil.rmtree(self._inbox, ignore_errors=True)


@hookimpl
def otter_pipe(name: str, pipeline: Pipeline, node: NodeContext | None) -> GrpcPipe | None:
    if name not in ("rpc", "file"):
        return None
    return GrpcPipe(pipeline, node, name)

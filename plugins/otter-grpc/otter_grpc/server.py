"""The node's pipe server: one gRPC server per listen address, shared by every sending pipe of the process.

The first pipe that stores a batch starts it, the last one to close stops it. Peers read only what a pipe
registered: small batches by key, big batches' spool files, and the files of a batch's rows.
"""

from __future__ import annotations

import logging
import os
import threading
import zlib
from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc

from otter_core.spi import ConfigError, NodeContext, host_port
from otter_grpc import otter_pipe_pb2 as pb
from otter_grpc import otter_pipe_pb2_grpc as pb_grpc
from otter_grpc.auth import TokenInterceptor, check_node, server_credentials
from otter_grpc.keys import parse_key, short_key
from otter_grpc.store import PipeStore

log = logging.getLogger("otter.grpc")
CHUNK_BYTES = 1 << 20
COMPRESS_MIN_BYTES = 4096
COMPRESS_LEVEL = 1
MAX_MESSAGE_BYTES = 256 << 20
SERVER_OPTIONS = [
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.so_reuseport", 0),
]


def maybe_compress(data: bytes) -> tuple[bytes, bool]:
    """zlib level 1 when it saves at least a tenth (images and archives do not shrink: sent as they are)."""
    if len(data) < COMPRESS_MIN_BYTES:
        return data, False
    packed = zlib.compress(data, COMPRESS_LEVEL)
    return (packed, True) if len(packed) < len(data) * 0.9 else (data, False)


class PipeServicer(pb_grpc.PipeServicer):
    def __init__(self, node_id: int | str) -> None:
        self.node_id = node_id
        self.stores: dict[str, PipeStore] = {}
        self.inboxes: dict[str, Any] = {}  # channel/pipeline -> otter_grpc.signals.SignalInbox

    def _store(self, key: str, context: grpc.ServicerContext) -> tuple[PipeStore, str]:
        try:
            parsed = parse_key(key)
        except Exception:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"not a batch key: {key!r}")
        store = self.stores.get(parsed.pipe_id)
        if store is None:
            context.abort(
                grpc.StatusCode.NOT_FOUND,
                f"no pipe {parsed.pipe_id} on node {self.node_id} (the sender restarted): roll back",
            )
        return store, parsed.seq

    def Pull(self, request: pb.PullRequest, context: grpc.ServicerContext) -> pb.PullReply:
        store, seq = self._store(request.key, context)
        data = store.take_small(seq)
        if data is None:
            context.abort(
                grpc.StatusCode.NOT_FOUND,
                f"batch {short_key(request.key)} is not held by node "
                f"{self.node_id} (already taken, or dropped): roll back",
            )
        packed, compressed = maybe_compress(data)
        return pb.PullReply(data=packed, compressed=compressed, crc32=zlib.crc32(data))

    def Read(self, request: pb.ReadRequest, context: grpc.ServicerContext) -> Iterator[pb.Chunk]:
        store, seq = self._store(request.key, context)
        path = (
            store.file_path(seq, request.source_root, request.path)
            if request.source_root
            else store.big_path(seq)
        )
        if path is None:
            what = f"file {request.path!r}" if request.source_root else "big batch"
            context.abort(
                grpc.StatusCode.NOT_FOUND,
                f"{what} of {short_key(request.key)} is not served by node "
                f"{self.node_id} (released, or never registered)",
            )
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            yield pb.Chunk(changed=True, gone=True)
            return
        try:
            st = os.fstat(fd)
            if (st.st_size, st.st_mtime_ns) != (request.size, request.mtime_ns):
                yield pb.Chunk(changed=True, size=st.st_size, mtime_ns=st.st_mtime_ns)
                return
            yield from self._chunks(fd, request.offset, request.length, request.compress)
        finally:
            os.close(fd)

    @staticmethod
    def _chunks(fd: int, offset: int, length: int, compress: bool) -> Iterator[pb.Chunk]:
        end = offset + length
        while offset < end:
            raw = os.pread(fd, min(CHUNK_BYTES, end - offset), offset)
            if not raw:  # truncated in place while read: the reader copies the current file instead
                now = os.fstat(fd)
                yield pb.Chunk(changed=True, size=now.st_size, mtime_ns=now.st_mtime_ns)
                return
            data, compressed = maybe_compress(raw) if compress else (raw, False)
            compress = compress and compressed  # a chunk that did not shrink: the rest will not either
            yield pb.Chunk(
                offset=offset, raw_length=len(raw), crc32=zlib.crc32(raw), compressed=compressed, data=data
            )
            offset += len(raw)

    def Release(self, request: pb.ReleaseRequest, context: grpc.ServicerContext) -> pb.ReleaseReply:
        released = 0
        for key in request.keys:
            try:
                parsed = parse_key(key)
            except Exception:
                continue
            store = self.stores.get(parsed.pipe_id)
            if store is not None:
                released += store.release(parsed.seq, files_too=not request.batch_only)
        return pb.ReleaseReply(released=released)

    def Ping(self, request: pb.PingRequest, context: grpc.ServicerContext) -> pb.PingReply:
        return pb.PingReply(node_id=self.node_id)

    def Signal(self, request: pb.SignalRequest, context: grpc.ServicerContext) -> pb.SignalReply:
        from otter_grpc.signals import from_message

        inbox = self.inboxes.get(request.pipeline)
        if inbox is None:
            context.abort(
                grpc.StatusCode.NOT_FOUND,
                f"no transform/load stage of pipeline {request.pipeline!r} runs on node {self.node_id}",
            )
        try:
            signals = [from_message(message) for message in request.signals]
        except (ValueError, KeyError, TypeError) as exc:
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, f"unreadable ready signal for {request.pipeline!r}: {exc}"
            )
        return pb.SignalReply(accepted=inbox.offer(signals), epoch=inbox.epoch())


class NodeServer:
    """A running gRPC server and the stores of the pipes it serves."""

    _running: dict[NodeContext, NodeServer] = {}
    _lock = threading.Lock()

    def __init__(self, node: NodeContext) -> None:
        check_node(node)
        self.node = node
        self.servicer = PipeServicer(node.node_id)
        interceptors: list[grpc.ServerInterceptor] = (
            [TokenInterceptor(node.auth_token)] if node.auth_token else []
        )
        self.server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=32, thread_name_prefix="pipe-server"),
            interceptors=interceptors,
            options=SERVER_OPTIONS,
        )
        pb_grpc.add_PipeServicer_to_server(self.servicer, self.server)
        credentials = server_credentials(node)
        try:
            port = (
                self.server.add_secure_port(node.listen, credentials)
                if credentials
                else self.server.add_insecure_port(node.listen)
            )
        except RuntimeError as exc:
            raise ConfigError(f"node {node.node_id!r} cannot listen on {node.listen}: {exc}") from None
        if not port:
            raise ConfigError(
                f"node {node.node_id!r} cannot listen on {node.listen} (in use, or not an address of "
                f"this host): change its listen address"
            )
        self.address = host_port(node.advertised_host, port)
        self.users = 0
        self.server.start()
        log.info(
            "node %s serves pipes on %s (%s%s)",
            node.node_id,
            self.address,
            "TLS" if node.tls else "plain TCP",
            ", mutual TLS" if node.mutual_tls else "",
        )

    @classmethod
    def acquire(cls, node: NodeContext) -> NodeServer:
        with cls._lock:
            server = cls._running.get(node)
            if server is None:
                server = cls._running[node] = NodeServer(node)
            server.users += 1
            return server

    def register(self, pipe_id: str, store: PipeStore) -> None:
        self.servicer.stores[pipe_id] = store

    def unregister(self, pipe_id: str) -> None:
        self.servicer.stores.pop(pipe_id, None)
        self._release()

    def add_inbox(self, pipeline: str, inbox: Any) -> None:
        """Take the ready signals peers send for ``pipeline`` (arbitrate mode rpc)."""
        self.servicer.inboxes[pipeline] = inbox

    def remove_inbox(self, pipeline: str, inbox: Any) -> None:
        if self.servicer.inboxes.get(pipeline) is inbox:
            del self.servicer.inboxes[pipeline]
        self._release()

    def _release(self) -> None:
        with NodeServer._lock:
            self.users -= 1
            if self.users > 0:
                return
            NodeServer._running.pop(self.node, None)
        self.server.stop(grace=1.0)

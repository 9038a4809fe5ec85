"""The receiving side: pull small batches, read big batches and row files in verified chunks, release.

Channels are cached per peer address and reused by every pipe of the process. gRPC errors become
``PipeError``s that name the peer and say whether retrying can help.
"""

from __future__ import annotations

import logging
import threading
import zlib
from collections.abc import Iterator

import grpc

from otter_core.spi import FileChanged, FileRef, NodeContext, PipeError
from otter_grpc import otter_pipe_pb2 as pb
from otter_grpc import otter_pipe_pb2_grpc as pb_grpc
from otter_grpc.auth import call_metadata, channel_credentials
from otter_grpc.keys import short_key
from otter_grpc.server import MAX_MESSAGE_BYTES

log = logging.getLogger("otter.grpc")
CALL_TIMEOUT_SECONDS = 60.0
MIN_RATE_BYTES_PER_SECOND = 64 * 1024  # a Read is given 60 s plus its length at this rate
CHANNEL_OPTIONS = [
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.keepalive_time_ms", 30000),
]

_channels: dict[tuple[NodeContext, str], grpc.Channel] = {}
_channels_lock = threading.Lock()


def _channel(node: NodeContext, address: str) -> grpc.Channel:
    with _channels_lock:
        channel = _channels.get((node, address))
        if channel is None:
            credentials = channel_credentials(node)
            channel = (
                grpc.secure_channel(address, credentials, options=CHANNEL_OPTIONS)
                if credentials
                else grpc.insecure_channel(address, options=CHANNEL_OPTIONS)
            )
            _channels[(node, address)] = channel
        return channel


def pipe_error(exc: grpc.RpcError, what: str, address: str) -> PipeError:
    """A ``PipeError`` for a failed call; only a refused identity (token, certificate) is not retried."""
    code = exc.code() if hasattr(exc, "code") else None
    detail = exc.details() if hasattr(exc, "details") else str(exc)
    if code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
        return PipeError(
            f"node {address} refused {what}: {detail}: give every node the same token (or "
            f"certificates signed by the same CA)",
            retryable=False,
        )
    if code in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
        return PipeError(detail or f"{what} from node {address}: {code.name}")
    error = PipeError(f"{what} from node {address} failed ({code.name if code else 'error'}: {detail})")
    error.resumable = True  # the same call may succeed: resume it
    return error


class PipeClient:
    """Calls to one peer node."""

    def __init__(self, node: NodeContext, address: str) -> None:
        self.node = node
        self.address = address
        self.stub = pb_grpc.PipeStub(_channel(node, address))
        self.metadata = call_metadata(node)

    def ping(self, timeout: float = 10.0) -> str:
        try:
            return self.stub.Ping(pb.PingRequest(), metadata=self.metadata, timeout=timeout).node_id
        except grpc.RpcError as exc:
            raise pipe_error(exc, "a ping", self.address) from None

    def pull(self, key: str) -> bytes:
        try:
            reply = self.stub.Pull(
                pb.PullRequest(key=key), metadata=self.metadata, timeout=CALL_TIMEOUT_SECONDS
            )
        except grpc.RpcError as exc:
            raise pipe_error(exc, f"batch {short_key(key)}", self.address) from None
        data = zlib.decompress(reply.data) if reply.compressed else reply.data
        if zlib.crc32(data) != reply.crc32:
            raise PipeError(
                f"batch {short_key(key)} from node {self.address} arrived damaged (CRC-32 mismatch)"
            )
        return data

    def read(
        self,
        key: str,
        ref: FileRef | None,
        offset: int,
        length: int,
        size: int,
        mtime_ns: int,
        compress: bool = True,
    ) -> Iterator[bytes]:
        """Verified raw bytes of a big batch (``ref`` None) or a row file, in order."""
        request = pb.ReadRequest(
            key=key,
            source_root=ref.source_root if ref else "",
            path=ref.path if ref else "",
            offset=offset,
            length=length,
            size=size,
            mtime_ns=mtime_ns,
            compress=compress,
        )
        what = f"file {ref.path!r} of batch {short_key(key)}" if ref else f"big batch {short_key(key)}"
        timeout = CALL_TIMEOUT_SECONDS + length / MIN_RATE_BYTES_PER_SECOND
        position = offset
        try:
            for chunk in self.stub.Read(request, metadata=self.metadata, timeout=timeout):
                if chunk.changed:
                    raise FileChanged(
                        f"{what} changed on node {self.address}",
                        None if chunk.gone else chunk.size,
                        None if chunk.gone else chunk.mtime_ns,
                    )
                data = zlib.decompress(chunk.data) if chunk.compressed else chunk.data
                if (
                    chunk.offset != position
                    or len(data) != chunk.raw_length
                    or zlib.crc32(data) != chunk.crc32
                ):
                    damaged = PipeError(
                        f"{what} from node {self.address} arrived damaged at offset {chunk.offset} "
                        f"(CRC-32, length or order mismatch)"
                    )
                    damaged.resumable = True
                    raise damaged
                position += len(data)
                yield data
        except grpc.RpcError as exc:
            raise pipe_error(exc, what, self.address) from None

    def release(self, keys: list[str], batch_only: bool = False) -> None:
        """Tell the sender it may forget ``keys`` (with ``batch_only``, only big batches' spool files: their
        row files are still to be read); best effort, in the background (a lost release only keeps an entry
        until the sender's TTL)."""

        def send() -> None:
            try:
                self.stub.Release(
                    pb.ReleaseRequest(keys=keys, batch_only=batch_only),
                    metadata=self.metadata,
                    timeout=CALL_TIMEOUT_SECONDS,
                )
            except grpc.RpcError as exc:
                log.info(
                    "release of %d key(s) on node %s failed (%s): they expire there",
                    len(keys),
                    self.address,
                    exc.code(),
                )

        threading.Thread(target=send, name="pipe-release", daemon=True).start()


class GrpcFileSource:
    """The ``FileSource`` of one batch: reads its row files from the sending node."""

    def __init__(self, client: PipeClient, key: str, compress: bool = True) -> None:
        self.client = client
        self.key = key
        self.compress = compress

    def read(self, ref: FileRef, offset: int, length: int) -> Iterator[bytes]:
        return self.client.read(self.key, ref, offset, length, ref.size, ref.mtime_ns, self.compress)

    def release(self) -> None:
        self.client.release([self.key])

"""A userspace WAN between two network namespaces: an Ethernet bridge that holds every frame for a fixed
delay (each way), for machines whose kernel has no ``sch_netem``.

    ip netns exec otter-wan python bench/wan.py --ports wan-a,wan-b --delay-ms 100

Two raw ``AF_PACKET`` sockets, one per port, with virtio-net headers (so frames whose checksum the kernel
left to "hardware", and segmentation-offload frames, pass through as they are); a reader thread per port
stamps each frame with its due time and queues it for the other port; a writer thread per direction sends
frames when they are due, in order.
Rate limiting is left to the kernel (``tc htb`` on the namespaces' interfaces). Frames queued beyond
``--limit-bytes`` per direction are dropped (tail drop), like a router's queue. Stops on SIGTERM/SIGINT and
prints frame/byte/drop counts.
"""

from __future__ import annotations

import argparse
import collections
import json
import signal
import socket
import sys
import threading
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
SOL_PACKET = 263
PACKET_VNET_HDR = 15  # frames carry a virtio-net header: checksum offload and GSO survive the bridge


class Direction:
    def __init__(self, name: str, out: socket.socket, delay: float, limit: int) -> None:
        self.name, self.out, self.delay, self.limit = name, out, delay, limit
        self.queue: collections.deque[tuple[float, bytes]] = collections.deque()
        self.queued_bytes = 0
        self.cond = threading.Condition()
        self.frames = self.bytes = self.drops = 0

    def push(self, frame: bytes) -> None:
        with self.cond:
            if self.queued_bytes + len(frame) > self.limit:
                self.drops += 1
                return
            self.queue.append((time.monotonic() + self.delay, frame))
            self.queued_bytes += len(frame)
            self.cond.notify()

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            with self.cond:
                while not self.queue and not stop.is_set():
                    self.cond.wait(0.2)
                if stop.is_set():
                    return
                due, frame = self.queue[0]
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            with self.cond:
                self.queue.popleft()
                self.queued_bytes -= len(frame)
            try:
                self.out.send(frame)
                self.frames += 1
                self.bytes += len(frame)
            except OSError:
                self.drops += 1


def reader(port: socket.socket, direction: Direction, stop: threading.Event) -> None:
    port.settimeout(0.2)
    while not stop.is_set():
        try:
            frame, address = port.recvfrom(70000)
        except TimeoutError:
            continue
        if address[2] == PACKET_OUTGOING:  # our own sends, seen again on this port
            continue
        direction.push(frame)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ports", required=True, help="two interface names, comma separated")
    parser.add_argument("--delay-ms", type=float, default=100.0, help="one-way delay added to every frame")
    parser.add_argument(
        "--limit-bytes", type=int, default=4 << 20, help="queue per direction before tail drop"
    )
    args = parser.parse_args()
    names = args.ports.split(",")
    ports = []
    for name in names:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        sock.bind((name, 0))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        sock.setsockopt(SOL_PACKET, PACKET_VNET_HDR, 1)
        ports.append(sock)
    stop = threading.Event()
    ab = Direction(f"{names[0]}->{names[1]}", ports[1], args.delay_ms / 1000, args.limit_bytes)
    ba = Direction(f"{names[1]}->{names[0]}", ports[0], args.delay_ms / 1000, args.limit_bytes)
    threads = [
        threading.Thread(target=reader, args=(ports[0], ab, stop), daemon=True),
        threading.Thread(target=reader, args=(ports[1], ba, stop), daemon=True),
        threading.Thread(target=ab.run, args=(stop,), daemon=True),
        threading.Thread(target=ba.run, args=(stop,), daemon=True),
    ]
    for thread in threads:
        thread.start()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print("ready", flush=True)
    while not stop.is_set():
        stop.wait(0.5)
    print(
        json.dumps({d.name: {"frames": d.frames, "bytes": d.bytes, "drops": d.drops} for d in (ab, ba)}),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

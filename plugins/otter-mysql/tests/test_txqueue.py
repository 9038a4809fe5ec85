"""``TxQueue.hold``/``release``: the compiled binlog loop queues a buffer's transactions together, in
order, bounded as ``put``, and an empty (position-only) one still coalesces with the one before."""

from __future__ import annotations

import threading

from otter_core.spi import Position, Transaction
from otter_mysql.txqueue import TxQueue


def _tx(pos: int, size: int = 10) -> Transaction:
    return Transaction((), Position("bin.000001", pos), size, raw=() if size else None)


def test_held_transactions_wait_for_release_then_arrive_in_order_and_bounded() -> None:
    queue = TxQueue(max_items=3, max_bytes=1000)
    queue.hold()
    for pos in range(1, 6):
        queue.put(_tx(pos))
    queue.put(_tx(6, size=0))
    queue.put(_tx(7, size=0))  # coalesces with 6: position only
    assert queue.get(0) is None  # nothing before release
    released = threading.Thread(target=queue.release)
    released.start()
    got = [queue.get(5) for _ in range(6)]
    released.join(5)
    assert not released.is_alive()
    assert [t.position.pos for t in got] == [1, 2, 3, 4, 5, 7]
    assert queue.get(0) is None
    queue.put(_tx(8))  # not held any more
    assert queue.get(0).position.pos == 8

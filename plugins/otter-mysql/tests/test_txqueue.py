"""``TxQueue.hold``/``release``: the compiled binlog loop queues a buffer's transactions together, in
order, bounded as ``put``, and an empty (position-only) one still coalesces with the one before."""

from __future__ import annotations

import threading

import pytest

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


def test_an_interrupt_ends_a_waiting_get_at_once_and_loses_nothing() -> None:
    """A stopping pipeline interrupts the select thread's wait (``MySQLSelector.interrupt``): the ``get``
    waiting returns None, and what is queued afterwards is the next ``get``'s."""
    queue = TxQueue(max_items=3, max_bytes=1000)
    got: list = []
    waiting = threading.Thread(target=lambda: got.append(queue.get(30)))
    waiting.start()
    while not queue._cond._waiters:  # type: ignore[attr-defined]  # the thread is inside its wait
        threading.Event().wait(0.001)
    queue.interrupt()
    waiting.join(5)
    assert not waiting.is_alive() and got == [None]
    queue.put(_tx(1))
    assert queue.get(0).position.pos == 1


def test_an_interrupt_with_no_get_waiting_ends_the_next_empty_wait_but_not_a_full_get() -> None:
    queue = TxQueue(max_items=3, max_bytes=1000)
    queue.interrupt()
    queue.put(_tx(1))
    assert queue.get(30).position.pos == 1  # a transaction is ready: returned, the interrupt still pending
    got: list = []
    waiting = threading.Thread(target=lambda: got.append(queue.get(30)))
    waiting.start()
    waiting.join(5)
    assert not waiting.is_alive() and got == [None]
    queue.put(_tx(2))
    assert queue.get(0).position.pos == 2


def test_get_all_takes_every_queued_transaction_at_once_and_frees_a_full_queue() -> None:
    """The selector process takes what is ready in one call (``MySQLSelector.poll_all``): in order, up to
    ``max_bytes`` (at least one), the queue's room given back at once (a reader blocked on a full queue
    goes on), [] after the timeout or an interrupt, and the reader's error once drained, as ``get``."""
    queue = TxQueue(max_items=3, max_bytes=1000)
    assert queue.get_all(0.01, 1000) == []
    writer = threading.Thread(target=lambda: [queue.put(_tx(pos)) for pos in range(1, 6)])
    writer.start()
    first: list = []
    while len(first) < 3:
        first += queue.get_all(5, 1000)
    writer.join(5)
    assert not writer.is_alive()  # the first get_all made room for the last two
    rest = queue.get_all(5, 1000)
    assert [t.position.pos for t in first + rest] == [1, 2, 3, 4, 5] and len(queue) == 0
    for pos, size in ((11, 300), (12, 300), (13, 10)):
        queue.put(_tx(pos, size))
    assert [t.position.pos for t in queue.get_all(0, 500)] == [11, 12]  # 12 brings them to 500 or more
    assert [t.position.pos for t in queue.get_all(0, 1)] == [13] and len(queue) == 0
    queue.put(_tx(6, size=0))
    queue.put(_tx(7, size=0))  # coalesces with 6
    assert [t.position.pos for t in queue.get_all(0, 1000)] == [7]
    queue.interrupt()
    assert queue.get_all(30, 1000) == []
    queue.put(_tx(8))
    queue.fail(RuntimeError("lost the source"))
    assert [t.position.pos for t in queue.get_all(0, 1000)] == [8]
    with pytest.raises(RuntimeError, match="lost the source"):
        queue.get_all(0, 1000)

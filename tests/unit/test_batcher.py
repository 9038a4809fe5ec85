"""Select cuts whole transactions into batches by size, bytes and timeout; DDL travels alone."""

import collections
import time

from otter_core.engine.select import Batcher
from otter_core.engine.window import Window
from otter_core.model import EventData, EventType, PipelineParameters, Position, Transaction


class ListSelector:
    """A selector over a fixed list of transactions (the contract, without a database)."""

    def __init__(self, txns):
        self.txns = collections.deque(txns)
        self.waited = 0.0  # seconds the batcher asked to wait on an empty source (not wall-clock: CI is busy)

    def start(self, position):
        self.started_at = position

    def poll(self, timeout):
        if self.txns:
            return self.txns.popleft()
        self.waited += timeout
        time.sleep(timeout)
        return None

    def close(self):
        self.txns.clear()


def txn(n_rows, pos, kind=EventType.INSERT, size=10):
    events = tuple(
        EventData("s", "t", kind, keys={"id": i}, ddl_sql="ALTER" if kind is EventType.DDL else None)
        for i in range(n_rows)
    )
    return Transaction(events, Position("f", pos), size)


def never():
    return False


def test_transactions_are_never_split_across_batches():
    batcher = Batcher(ListSelector([txn(3, 10), txn(3, 20), txn(3, 30)]), PipelineParameters(batch_size=4))
    events, position, _ = batcher.next_batch(never)
    assert len(events) == 6 and position.pos == 20


def test_batch_bytes_cuts_a_batch():
    batcher = Batcher(
        ListSelector([txn(1, 10, size=600), txn(1, 20, size=600)]), PipelineParameters(batch_bytes=1000)
    )
    events, position, size = batcher.next_batch(never)
    assert (len(events), position.pos, size) == (2, 20, 1200)


def test_ddl_is_a_batch_of_its_own():
    batcher = Batcher(ListSelector([txn(2, 10), txn(1, 20, EventType.DDL), txn(2, 30)]), PipelineParameters())
    sizes = [len(batcher.next_batch(never)[0]) for _ in range(3)]
    assert sizes == [2, 1, 2]


def test_timeout_minus_one_takes_what_is_there():
    selector = ListSelector([txn(1, 10)])
    batcher = Batcher(selector, PipelineParameters(batch_timeout_ms=-1))
    events, _, _ = batcher.next_batch(never)
    assert len(events) == 1 and selector.waited == 0


def test_a_lone_change_is_not_held_for_the_whole_timeout():
    selector = ListSelector([txn(1, 10)])
    batcher = Batcher(selector, PipelineParameters(batch_timeout_ms=5000))
    batcher.next_batch(never)
    assert selector.waited < 0.5


def test_empty_transactions_still_advance_the_position():
    batcher = Batcher(ListSelector([Transaction((), Position("f", 99), 0)]), PipelineParameters())
    events, position, _ = batcher.next_batch(never)
    assert events == [] and position.pos == 99


def test_window_admits_one_big_batch_but_not_a_second():
    window = Window(slots=5, max_bytes=100)
    assert window.has_room()
    window.enter(500)
    assert not window.wait_for_room(0.01)
    window.leave(500)
    assert window.has_room()


def test_the_memory_limit_cuts_batches_whatever_batch_bytes_says():
    params = PipelineParameters(batch_size=100000, batch_bytes=1 << 30, memory_limit_bytes=400)
    batcher = Batcher(ListSelector([txn(1, p, size=60) for p in range(1, 11)]), params)
    sizes = [batcher.next_batch(never)[2] for _ in range(4)]
    assert sizes == [120, 120, 120, 120]  # a quarter of the limit (100 bytes), whole transactions


def test_a_transaction_bigger_than_the_memory_limit_still_makes_a_batch():
    params = PipelineParameters(memory_limit_bytes=100)
    batcher = Batcher(ListSelector([txn(2, 10, size=10_000), txn(1, 20, size=5)]), params)
    assert [batcher.next_batch(never)[2] for _ in range(2)] == [10_000, 5]


def test_window_counts_batches_at_three_times_their_binlog_bytes():
    window = Window(slots=5, max_bytes=100)
    window.enter(30)
    assert window.has_room()
    window.enter(10)  # 40 binlog bytes take ~120 bytes of memory: the window is full
    assert not window.has_room()


class ScriptedSelector:
    """Returns the scripted transactions (None: nothing ready at that poll), then nothing."""

    def __init__(self, script):
        self.script = collections.deque(script)

    def poll(self, timeout):
        return self.script.popleft() if self.script else None


def test_a_batch_leaves_at_once_when_nothing_more_is_ready_and_nothing_is_loading():
    batcher = Batcher(ScriptedSelector([txn(1, 10), None, None, txn(1, 20)]), PipelineParameters())
    events, position, _ = batcher.next_batch(never)
    assert len(events) == 1 and position.pos == 10


def test_a_batch_keeps_collecting_while_earlier_batches_load():
    busy = iter([True, True, False])
    batcher = Batcher(
        ScriptedSelector([txn(1, 10), None, None, txn(1, 20)]),
        PipelineParameters(),
        load_busy=lambda: next(busy, False),
    )
    events, position, _ = batcher.next_batch(never)
    assert len(events) == 2 and position.pos == 20


def test_a_transaction_arriving_as_the_pipeline_pauses_waits_for_the_resume():
    """The pause comes while the batcher waits in poll(); what poll then returns starts the next batch."""
    paused = []

    class PausingSelector(ListSelector):
        def poll(self, timeout):
            paused.append(True)  # the operator pauses during this wait
            return super().poll(timeout)

    batcher = Batcher(PausingSelector([txn(2, 10), txn(1, 20)]), PipelineParameters())
    assert batcher.next_batch(lambda: bool(paused)) is None
    events, position, _ = batcher.next_batch(never)  # resumed: nothing was lost
    assert (len(events), position.pos) == (3, 20)


def test_a_pause_after_some_transactions_closes_the_batch_with_them_only():
    batcher = Batcher(ListSelector([txn(2, 10), txn(1, 20)]), PipelineParameters())
    calls = iter([False, False, False, True])  # paused while polling for the second transaction
    events, position, _ = batcher.next_batch(lambda: next(calls, True))
    assert (len(events), position.pos) == (2, 10)
    events, position, _ = batcher.next_batch(never)
    assert (len(events), position.pos) == (1, 20)


def test_while_an_earlier_batch_loads_the_batcher_polls_once_per_wait():
    """Nothing more ready while the load is busy: one poll of BUSY_POLL_SECONDS per wait, not three
    (poll(0), poll(IDLE_SECONDS), poll(BUSY)): that loop ran for every busy load on the select thread."""
    from otter_core.engine.select import BUSY_POLL_SECONDS, IDLE_WAIT_SECONDS

    asked = []

    class Recording(ScriptedSelector):
        def poll(self, timeout):
            asked.append(timeout)
            return super().poll(timeout)

    busy = iter([True] * 4 + [False])
    batcher = Batcher(
        Recording([txn(1, 10), None, None, None, None, None]),
        PipelineParameters(),
        load_busy=lambda: next(busy, False),
    )
    events, position, _ = batcher.next_batch(never)
    assert (len(events), position.pos) == (1, 10)
    assert asked == [IDLE_WAIT_SECONDS, 0.0] + [BUSY_POLL_SECONDS] * 4


def test_while_a_load_is_busy_the_batcher_waits_for_its_end_instead_of_polling():
    """With a ``LoadWake`` and a selector that can wait on it, the select thread sleeps until the load
    ends (the runner sets the wake) rather than waking every BUSY_POLL_SECONDS to ask; the batch leaves
    then, with what it collected."""
    import multiprocessing.connection
    import threading

    from otter_core.engine.select import IDLE_WAIT_SECONDS, LoadWake

    wake = LoadWake()
    busy = threading.Event()
    busy.set()
    waiting = threading.Event()
    calls = []

    class Waiting(ListSelector):
        def poll(self, timeout):
            calls.append(("poll", timeout))
            return super().poll(timeout) if self.txns or timeout == 0.0 else None

        def poll_or_wake(self, timeout, wake):
            calls.append(("wait", timeout))
            waiting.set()
            woken = bool(multiprocessing.connection.wait([wake], timeout))
            calls.append(("woken", woken))
            return None

    def load_ends():
        waiting.wait(10)
        busy.clear()  # the runner's order: the window is left, then the wake is set
        wake.set()

    ender = threading.Thread(target=load_ends)
    ender.start()
    batcher = Batcher(Waiting([txn(1, 10)]), PipelineParameters(), load_busy=busy.is_set, wake=wake)
    events, position, _ = batcher.next_batch(never)
    ender.join(10)
    assert (len(events), position.pos) == (1, 10)
    assert ("woken", True) in calls  # the wait ended because the load ended, not by its timeout
    busy_polls = [c for c in calls if c[0] == "poll" and c[1] not in (IDLE_WAIT_SECONDS, 0.0)]
    assert busy_polls == []  # no short polls while the load was busy
    wake.close()


def test_an_earlier_loads_wake_is_cleared_before_the_batcher_asks_and_waits():
    """The wake is cleared before each question "is a load busy?": a stale wake (an earlier load's end,
    already seen) would make every wait return at once, i.e. a busy loop while the next load runs; a load
    that ends after the question sets it again and ends the wait."""
    import select

    from otter_core.engine.select import LoadWake

    wake = LoadWake()
    wake.set()  # an earlier load's end, already seen
    stale = []

    class Waiting(ListSelector):
        def poll_or_wake(self, timeout, wake):
            stale.append(bool(select.select([wake], [], [], 0)[0]))
            wake.set()  # this load ends during the wait
            return None

    busy = iter([True, True, False])
    batcher = Batcher(
        Waiting([txn(1, 10)]), PipelineParameters(), load_busy=lambda: next(busy, False), wake=wake
    )
    events, position, _ = batcher.next_batch(never)
    assert (len(events), position.pos) == (1, 10)
    assert stale == [False, False]  # each wait began with the wake cleared
    wake.close()

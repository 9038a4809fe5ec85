"""The selector process's own tuning (engine/select_process.py)."""

import subprocess
import sys


def test_the_selector_process_switches_threads_every_half_millisecond():
    """Its main thread only hands transactions on; with the default 5 ms switch interval it waited up to
    5 ms for the GIL while the reader thread decoded (the latency's p99). Run in a fresh interpreter: the
    setting is per process."""
    code = (
        "import sys; from otter_core.engine.select_process import tune_child, SWITCH_INTERVAL_SECONDS; "
        "before = sys.getswitchinterval(); tune_child(); "
        "print(before, sys.getswitchinterval(), SWITCH_INTERVAL_SECONDS)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    before, after, wanted = map(float, out.split())
    assert before == 0.005 and after == wanted == 0.0005


def test_transactions_cross_the_pipe_as_plain_values_and_come_back_equal() -> None:
    import pickle

    from otter_core.engine import select_process
    from otter_core.model import Position, Transaction

    raw = ((), (("raw", "s", "t", None, 1.5, (1, "I", b"\x03", None, b"body", "bin.000002", 99)),), False)
    sent = [
        Transaction((), Position("bin.000002", 99, "0-1-5", 1700000000), 4, raw),
        Transaction((), Position("bin.000002", 120, None, 0), 0),
    ]
    wire = [select_process._plain(txn) for txn in sent]
    assert all(type(item) is tuple for item in wire)  # no Transaction/Position __reduce__ per transaction
    got = [select_process._transaction(item) for item in pickle.loads(pickle.dumps(wire))]
    assert got == sent and all(type(t) is Transaction and type(t.position) is Position for t in got)


def test_a_plugin_with_only_row_events_still_gets_positions_not_tuples() -> None:
    """The pipe carries positions as field tuples; an expander without ``row_events_at`` (a plugin written
    for ``row_events(raw, Position)``) is called with a ``Position`` built from them."""
    from otter_core.engine import select_process
    from otter_core.model import Position

    class Older:
        def row_events(self, raw, at):
            return (raw, at)

    class Newer(Older):
        def row_events_at(self, raw, at):
            return ("at", raw, at)

    fields = ("bin.000003", 7, "0-1-9", 5)
    got = select_process._row_events_at(Older())("raw", fields)
    assert got == ("raw", Position(*fields)) and type(got[1]) is Position
    assert select_process._row_events_at(Newer())("raw", fields) == ("at", "raw", fields)
    assert select_process._row_events_at(object()) is None and select_process._row_events_at(None) is None

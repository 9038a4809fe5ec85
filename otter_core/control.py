"""Channel states set from outside the running process: START, PAUSE, STOP.

``otter-run channel pause shop --state-dir DIR`` writes ``DIR/shop/channel.state``; a running
``otter-run run`` with the same state directory reads it about twice a second. PAUSE closes the permit
(Select stops; batches in flight still load and ack), START opens it, STOP stops the channel's
pipelines after they acked what they loaded. Positions are kept in every state.
"""

from __future__ import annotations

import os
from pathlib import Path

from otter_core.errors import ConfigError
from otter_core.state import _safe

STATES = ("START", "PAUSE", "STOP")


def state_file(state_dir: str | os.PathLike, channel: str) -> Path:
    return Path(state_dir) / _safe(channel) / "channel.state"


def set_channel_state(state_dir: str | os.PathLike, channel: str, state: str) -> None:
    state = state.upper()
    if state not in STATES:
        raise ConfigError(f"unknown channel state {state!r}: use one of {', '.join(STATES)}")
    path = state_file(state_dir, channel)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(state + "\n")
    os.replace(tmp, path)


def channel_state(state_dir: str | os.PathLike, channel: str) -> str:
    try:
        state = state_file(state_dir, channel).read_text().strip().upper()
    except FileNotFoundError:
        return "START"
    return state if state in STATES else "START"

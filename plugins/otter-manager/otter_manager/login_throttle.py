"""Failed-login throttling: after too many wrong passwords, further attempts wait (HTTP 429).

Two counters, both over a sliding window: failures for one user name from one client address (a
password guessed for one account), and failures from one client address whatever the user name (names
sprayed from one place). A successful login clears the first. In memory: a restart of the manager
forgets them, which costs an attacker a restart of the manager, not of their script.

Check and count are one step under the lock (``attempt``): an attempt is counted as failed before its
password is checked and taken back if it succeeds, so concurrent guesses cannot all pass the check before
any of them is counted. The address is the peer's, or behind a proxy named in ``--forwarded-allow-ips``
the client's from X-Forwarded-For (``http_guard.TrustedProxyMiddleware``): without that setting every
client of a proxy shares one address and one client's failures would lock out everyone.
"""

from __future__ import annotations

import collections
import math
import threading
import time
from collections.abc import Callable

from fastapi import HTTPException, Request
from sqlalchemy.orm import Session

from otter_manager.security import authenticate
from otter_manager.store import User

PER_USER_FAILURES = 5
PER_ADDRESS_FAILURES = 20
WINDOW_SECONDS = 300.0


class LoginThrottle:
    """Counts failed logins per (address, user name) and per address within ``window`` seconds."""

    def __init__(
        self,
        per_user: int = PER_USER_FAILURES,
        per_address: int = PER_ADDRESS_FAILURES,
        window: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_user = per_user
        self.per_address = per_address
        self.window = window
        self.clock = clock
        self._failures: dict[tuple[str, str | None], collections.deque[float]] = {}
        self._lock = threading.Lock()
        self._next_sweep = clock() + window

    def tracked(self) -> int:
        """How many (address, user name) and address counters are kept: bounded by the failures of the
        last window or two, whatever the number of addresses seen since the start."""
        with self._lock:
            return len(self._failures)

    def _sweep(self, now: float) -> None:
        """Once a window, forget the counters whose failures all left it (under the lock): a counter is
        otherwise pruned only when its address tries again, and addresses that never return would stay."""
        if now < self._next_sweep:
            return
        self._next_sweep = now + self.window
        for key in [k for k, times in self._failures.items() if not times or now - times[-1] >= self.window]:
            del self._failures[key]

    def _recent(self, key: tuple[str, str | None], now: float) -> collections.deque[float]:
        times = self._failures.get(key)
        if times is None:
            return collections.deque()
        while times and now - times[0] >= self.window:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def wait_seconds(self, address: str, username: str) -> int:
        """Seconds before this address may try ``username`` again (0: now)."""
        now = self.clock()
        with self._lock:
            waits = [0.0]
            for key, limit in (
                ((address, username.lower()), self.per_user),
                ((address, None), self.per_address),
            ):
                times = self._recent(key, now)
                if len(times) >= limit:
                    waits.append(times[-limit] + self.window - now)
        return math.ceil(max(waits))

    def attempt(self, address: str, username: str) -> int:
        """Seconds to wait (nothing counted), or 0 with this attempt counted as a failure until
        ``succeeded`` takes it back: check and count at once."""
        now = self.clock()
        with self._lock:
            waits = [0.0]
            for key, limit in (
                ((address, username.lower()), self.per_user),
                ((address, None), self.per_address),
            ):
                times = self._recent(key, now)
                if len(times) >= limit:
                    waits.append(times[-limit] + self.window - now)
            wait = math.ceil(max(waits))
            if wait > 0:
                return wait
            self._sweep(now)
            for key in ((address, username.lower()), (address, None)):
                self._failures.setdefault(key, collections.deque()).append(now)
            return 0

    def failed(self, address: str, username: str) -> None:
        now = self.clock()
        with self._lock:
            self._sweep(now)
            for key in ((address, username.lower()), (address, None)):
                self._failures.setdefault(key, collections.deque()).append(now)
                self._recent(key, now)

    def succeeded(self, address: str, username: str) -> None:
        """Clear the user's failures from this address, and take this login's count off the address's."""
        with self._lock:
            self._failures.pop((address, username.lower()), None)
            times = self._failures.get((address, None))
            if times:
                times.pop()


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def check_throttle(request: Request, username: str) -> None:
    """HTTPException 429 (with Retry-After) when this client must wait before trying ``username``;
    otherwise the attempt is counted as failed until ``LoginThrottle.succeeded``."""
    wait = request.app.state.login_throttle.attempt(client_address(request), username)
    if wait > 0:
        raise HTTPException(
            429,
            f"too many failed logins for {username!r} from {client_address(request)}: try again in {wait} s",
            headers={"Retry-After": str(wait)},
        )


def authenticate_throttled(request: Request, db: Session, username: str, password: str) -> User | None:
    """``security.authenticate`` behind the throttle: 429 while this client must wait; each attempt is
    counted before the password is checked (a failure stays counted, a success clears the user's)."""
    check_throttle(request, username)
    user = authenticate(db, username, password)
    if user is not None:
        request.app.state.login_throttle.succeeded(client_address(request), username)
    return user

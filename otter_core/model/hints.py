"""Event hints: marks a stage puts on an ``EventData`` (``hints``) for a later stage or a plugin to act on.

A ``str`` enum, so a hint is the same string it always was wherever an event is serialised (msgpack
over gRPC, pickles to the selector process, the JSON reject log) and compares equal to it. Members whose
value ends in ``:`` are prefixes: the hint is the prefix followed by a value (``Hint.RENAMED_FROM.of(name)``).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable


class Hint(str, enum.Enum):
    # conflict detection: a merged DELETE whose first event was an INSERT expects no row on the target
    ABSENT_BEFORE = "absent-before"
    # ... and a merged change whose source row went through "no row" (a delete, then more) accepts none
    ABSENT_OK = "absent-ok"
    # two-way: a far-side change applied at home, sent back once (home wins)
    REMEDY = "loopback-remedy"
    # a remedy re-read from home: no before image, so no conflict detection
    REREAD = "remedy-reread"
    # the image was replaced by the source's current row (``sync_consistency: media``)
    BACK_QUERY = "back-query"
    # a row re-read for a resync request (retl.retl_buffer, the freedom door)
    RESYNC = "resync"
    # a row of the initial load (snapshot)
    SNAPSHOT = "snapshot"
    # a repair written by ``otter-run verify``
    VERIFY = "verify"
    # found absent: written by a plain INSERT, so a row inserted since fails the load (conflict checks)
    INSERT_ONLY = "insert-only"
    # a write an operator's conflict resolution made on the other side: no checks
    CONFLICT_RESOLUTION = "conflict-resolution"
    # prefix + str(ConflictPolicy): set by Transform for pairs with a conflict policy
    CONFLICT_POLICY = "conflict:"
    # prefix + the source's schema.table: Transform mapped the event to a renamed target
    RENAMED_FROM = "renamed-from:"
    # prefix + the reason: a row the selector could not decode (``skip_select_exception``); Extract
    # writes it to the reject log and drops it
    SELECT_REJECTED = "select-rejected:"

    # a hint is its string everywhere: in sets, in f-strings, in str()
    __hash__ = str.__hash__

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    def of(self, value: str) -> str:
        """The hint of a prefix member carrying ``value`` (a plain ``str``)."""
        return self.value + value

    def values_in(self, hints: Iterable[str]) -> list[str]:
        """The values carried by this prefix member among ``hints``, in sorted order."""
        prefix = self.value
        return sorted(h[len(prefix) :] for h in hints if h.startswith(prefix))

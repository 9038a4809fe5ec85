"""Errors of runtime control; the ops API answers them with 409 and 404."""

from __future__ import annotations

from otter_core.spi import OtterError


class ChannelConflict(OtterError):
    """The channel is in the wrong state for the request (running when it must be stopped, ...): 409."""

    retryable = False


class UnknownChannel(OtterError):
    """The runtime knows no such channel or pipeline: 404."""

    retryable = False

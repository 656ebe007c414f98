"""What stops one request: the client's own mistake, or the request ending before its work is done.

Both are answered for that request alone (a raise out of a python-backend ``execute`` would fail its
whole batch as INTERNAL): ``InvalidInput`` as INVALID_ARGUMENT with its bracketed reason code,
``Stopped`` with the status it carries (cancelled, out of time, or a called model's own refusal, such
as a full queue, which the client must see as ``Overloaded``).
"""

from __future__ import annotations

from lumaflow import contract

# What ``Stopped.status`` says when the runtime itself stops a request; a called model's refusal carries
# that model's own status instead (Triton's error code, passed through untouched).
CANCELLED = "cancelled"
DEADLINE = "deadline"


class InvalidInput(Exception):
    """A request the client got wrong; ``str()`` is the message sent back as INVALID_ARGUMENT."""

    def __init__(self, reason: str, sentence: str) -> None:
        if reason not in contract.REASON_CODES:
            raise ValueError(f"unknown reason code {reason!r}")
        super().__init__(f"[{reason}] {sentence}")
        self.reason = reason


class Stopped(Exception):
    """The request ends early: cancelled, out of time, or refused by a called model; ``str()`` says why.

    ``status`` is ``CANCELLED``, ``DEADLINE``, or the status a called model answered with.
    """

    def __init__(self, message: str, status: object) -> None:
        super().__init__(message)
        self.status = status

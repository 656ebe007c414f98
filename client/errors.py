"""Typed errors, mapped from tritonclient's at one boundary (``from_triton``).

Lumaflow's own INVALID_ARGUMENT messages carry a bracketed reason code (``[image_too_large] ...``),
matched first. Otherwise the gRPC status decides, except where Triton uses one status for several
things: UNAVAILABLE means a full queue, a missing auth header, a passed deadline or a server that is
down, told apart by Triton's own message forms in ``MESSAGE_FORMS`` (each row is tested against a
real server in tests/test_client.py and tests/test_client_resilience.py).
"""

from __future__ import annotations

from tritonclient.utils import InferenceServerException


class LumaflowError(Exception):
    """Any failure of a Lumaflow call; ``status`` is the gRPC status, ``reason`` Lumaflow's code if any."""

    retryable = False  # safe to send again, to this endpoint or another

    def __init__(self, message: str, *, status: str = "", reason: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.reason = reason


class InvalidImage(LumaflowError):
    """The bytes are not an image Lumaflow decodes, or the request's tensors are malformed."""


class MaskMismatch(InvalidImage):
    """The inpainting mask does not match the image's size."""


class ImageTooLarge(LumaflowError):
    """Over the pipeline's limit on file size, input or output megapixels."""


class InvalidOptions(LumaflowError):
    """OPTIONS is not JSON, has an unknown key or a bad value."""


class UnknownPipeline(LumaflowError):
    """The server serves no pipeline of that name."""


class Overloaded(LumaflowError):
    """The pipeline's queue is full; retried only when the caller opts in (it adds load)."""


class DeadlineExceeded(LumaflowError):
    """The call's deadline passed (on the client, or on the server before the work finished)."""


class Unavailable(LumaflowError):
    """No server answered: refused connection, shutdown, or not ready. Safe to retry elsewhere."""

    retryable = True


class Unauthenticated(LumaflowError):
    """The server wants a token this client did not send (or sent wrong)."""


class ServerError(LumaflowError):
    """The server failed on this request (INTERNAL); its log has the details."""


REASONS: dict[str, type[LumaflowError]] = {
    "invalid_image": InvalidImage,
    "mask_mismatch": MaskMismatch,
    "image_too_large": ImageTooLarge,
    "invalid_options": InvalidOptions,
}

# (gRPC status, a fragment of Triton's message, error): where one status means several things.
MESSAGE_FORMS: tuple[tuple[str, str, type[LumaflowError]], ...] = (
    ("StatusCode.UNAVAILABLE", "exceeds maximum queue size", Overloaded),
    ("StatusCode.UNAVAILABLE", "this protocol is restricted", Unauthenticated),
    ("StatusCode.UNAVAILABLE", "deadline passed", DeadlineExceeded),  # a tiler stopped at the deadline
    ("StatusCode.UNAVAILABLE", "request timeout expired", DeadlineExceeded),  # a queue dropped it at its deadline
    ("StatusCode.NOT_FOUND", "unknown model", UnknownPipeline),
    # A python-backend stub died (killed, out of memory): the request did not run, and the server's
    # supervisor reloads the model, so this is worth retrying like a lost connection.
    ("StatusCode.INTERNAL", "is not healthy", Unavailable),
)

STATUSES: dict[str, type[LumaflowError]] = {
    "StatusCode.DEADLINE_EXCEEDED": DeadlineExceeded,
    "StatusCode.UNAVAILABLE": Unavailable,
    "StatusCode.UNAUTHENTICATED": Unauthenticated,
    "StatusCode.RESOURCE_EXHAUSTED": Overloaded,
    "StatusCode.INVALID_ARGUMENT": InvalidImage,
    "StatusCode.NOT_FOUND": UnknownPipeline,
}


def from_triton(error: InferenceServerException) -> LumaflowError:
    """The typed error for one failed tritonclient call."""
    status = str(error.status() or "")
    message = str(error.message() or "")
    for reason, kind in REASONS.items():
        if f"[{reason}]" in message:
            return kind(message, status=status, reason=reason)
    lowered = message.lower()
    for form_status, fragment, kind in MESSAGE_FORMS:
        if status == form_status and fragment in lowered:
            return kind(message, status=status)
    return STATUSES.get(status, ServerError)(message, status=status)

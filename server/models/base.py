"""The request loop shared by Lumaflow's python-backend models.

Triton hands ``execute`` a batch of requests and expects exactly one response per request, in
order. A raise inside ``execute`` fails every request of the batch as INTERNAL with a traceback
in the message, so each request is answered on its own: ``InvalidInput`` becomes that request's
INVALID_ARGUMENT, anything else that request's INTERNAL with a message free of paths.
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Awaitable, Sequence
from typing import Any

import numpy as np
import triton_python_backend_utils as pb_utils

from lumaflow.ensemble import contract
from lumaflow.server.imaging import InvalidInput

Outputs = dict[str, np.ndarray]


class RequestModel:
    """Base for models that answer each request of a batch independently."""

    config: dict[str, Any]
    model_name: str
    parameters: dict[str, str]

    def initialize(self, args: dict[str, str]) -> None:
        config = json.loads(args["model_config"])
        self.config = config
        self.model_name = config["name"]
        self.model_version = args["model_version"]
        self.model_directory = f"{args['model_repository']}/{args['model_version']}"
        self.parameters = {key: value["string_value"] for key, value in config.get("parameters", {}).items()}
        self.setup(args)

    def setup(self, args: dict[str, str]) -> None:
        """Build what every request needs once (sessions, parsed parameters)."""

    def process(self, request: Any) -> Outputs:
        """The outputs of one request; raise ``InvalidInput`` for a bad request."""
        raise NotImplementedError

    def execute(self, requests: Sequence[Any]) -> list[Any]:
        return [self.respond(request) for request in requests]

    def respond(self, request: Any) -> Any:
        """One response for ``request``: its outputs, or its error, never a raise."""
        try:
            return outputs_response(self.process(request))
        except InvalidInput as error:
            return error_response(str(error))
        except Exception:
            pb_utils.Logger.log_error(f"{self.model_name}: {traceback.format_exc()}")
            return internal_error(self.model_name)


def input_array(request: Any, name: str) -> np.ndarray:
    tensor = pb_utils.get_input_tensor_by_name(request, name)
    if tensor is None:
        raise InvalidInput(contract.INVALID_IMAGE, f"The request has no {name} input.")
    return tensor.as_numpy()


def optional_bytes(request: Any, name: str) -> bytes | None:
    """The one item of an optional [1, 1] string input, or None when the request left it out."""
    if pb_utils.get_input_tensor_by_name(request, name) is None:
        return None
    return single_bytes(request, name)


def single_bytes(request: Any, name: str) -> bytes:
    """The one encoded item of a [1, 1] string input."""
    array = input_array(request, name)
    if array.size != 1:
        raise InvalidInput(
            contract.INVALID_IMAGE,
            f"Send one image per request: {name} must have shape [1, 1], got {list(array.shape)}.",
        )
    item = array.reshape(-1)[0]
    return item if isinstance(item, bytes) else str(item).encode()


def outputs_response(outputs: Outputs) -> Any:
    return pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor(name, value) for name, value in outputs.items()])


def error_response(message: str) -> Any:
    return pb_utils.InferenceResponse(error=pb_utils.TritonError(message, pb_utils.TritonError.INVALID_ARG))


def internal_error(model_name: str) -> Any:
    return pb_utils.InferenceResponse(
        error=pb_utils.TritonError(f"{model_name} failed on this request; the server log has the details.")
    )


def bytes_tensor(value: bytes) -> np.ndarray:
    """A [1, 1] TYPE_STRING value."""
    return np.array([[value]], dtype=np.object_)


# --- models that call other models by BLS (tilers, the router) ------------------------------------------


class Stopped(Exception):
    """The request ends early: cancelled, out of time, or refused by a called model; ``str()`` says why."""

    def __init__(self, message: str, code: Any) -> None:
        super().__init__(message)
        self.code = code


def stopped_response(stopped: Stopped) -> Any:
    return pb_utils.InferenceResponse(error=pb_utils.TritonError(str(stopped), stopped.code))


def deadline_of(request: Any, started: float) -> float | None:
    """The monotonic time by which ``request`` must be answered (Triton's request ``timeout``), if any."""
    timeout_us = int(request.timeout() or 0)
    return started + timeout_us / 1e6 if timeout_us > 0 else None


def time_left(request: Any, deadline: float | None, work: tuple[str, str]) -> float:
    """Seconds left for ``request`` (inf without a deadline); ``Stopped`` once the client no longer waits.

    ``work`` names what would be skipped and what doing it is called: ("tiles", "processed").
    """
    what, done = work
    if request.is_cancelled():
        raise Stopped(
            f"The request was cancelled; its remaining {what} were not {done}.", pb_utils.TritonError.CANCELLED
        )
    if deadline is None:
        return float("inf")
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise Stopped(
            f"The request's deadline passed before its remaining {what} were {done}.", pb_utils.TritonError.UNAVAILABLE
        )
    return remaining


async def respond_async(model_name: str, work: Awaitable[Outputs]) -> Any:
    """One request's response from the coroutine computing its outputs: bad input is INVALID_ARG with its
    reason, a stop (cancelled, past its deadline) says so, anything else is logged and answered INTERNAL.
    Each request gets its own response: one failure never fails the others of its batch."""
    try:
        return outputs_response(await work)
    except InvalidInput as error:
        return error_response(str(error))
    except Stopped as stopped:
        return stopped_response(stopped)
    except Exception:
        pb_utils.Logger.log_error(f"{model_name}: {traceback.format_exc()}")
        return internal_error(model_name)


def call_model(model: str, input_name: str, value: np.ndarray, output_name: str) -> np.ndarray:
    """One synchronous BLS request with one input and one output (the assessors); its error raises."""
    request = pb_utils.InferenceRequest(
        model_name=model, inputs=[pb_utils.Tensor(input_name, value)], requested_output_names=[output_name]
    )
    response = request.exec()
    if response.has_error():
        raise RuntimeError(f"{model}: {response.error().message()}")
    return pb_utils.get_output_tensor_by_name(response, output_name).as_numpy()

"""Triton glue shared by Lumaflow's python-backend models: request tensors, responses, deadlines, BLS.

Triton hands ``execute`` a batch of requests and expects exactly one response per request, in
order. A raise inside ``execute`` fails every request of the batch as INTERNAL with a traceback
in the message, so each request is answered on its own: ``InvalidInput`` becomes that request's
INVALID_ARGUMENT, ``Stopped`` that request's own status (cancelled, out of time, or what a called
model answered: a full queue stays UNAVAILABLE, which the client reads as ``Overloaded``), anything
else that request's INTERNAL with a message free of paths. The work itself is the runtime's
(``lumaflow.runtime``): these classes only move tensors in and out.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
import traceback
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import triton_python_backend_utils as pb_utils

from lumaflow import contract
from lumaflow.params import cpu_nice
from lumaflow.runtime.errors import CANCELLED, DEADLINE, InvalidInput, Stopped
from lumaflow.runtime.priority import lower_cpu_priority

Outputs = dict[str, np.ndarray]


def optional_array(request: Any, name: str) -> np.ndarray | None:
    """An input's array, or None when the request left it out."""
    tensor = pb_utils.get_input_tensor_by_name(request, name)
    return None if tensor is None else tensor.as_numpy()


def input_array(request: Any, name: str) -> np.ndarray:
    array = optional_array(request, name)
    if array is None:
        raise InvalidInput(contract.INVALID_IMAGE, f"The request has no {name} input.")
    return array


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


def bytes_tensor(value: bytes) -> np.ndarray:
    """A [1, 1] TYPE_STRING value."""
    return np.array([[value]], dtype=np.object_)


def outputs_response(outputs: Outputs) -> Any:
    return pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor(name, value) for name, value in outputs.items()])


def error_response(message: str) -> Any:
    return pb_utils.InferenceResponse(error=pb_utils.TritonError(message, pb_utils.TritonError.INVALID_ARG))


def stopped_response(stopped: Stopped) -> Any:
    """The runtime's own stops as Triton's codes; a called model's code passes through untouched."""
    codes = {CANCELLED: pb_utils.TritonError.CANCELLED, DEADLINE: pb_utils.TritonError.UNAVAILABLE}
    code = codes.get(stopped.status, stopped.status) if isinstance(stopped.status, str) else stopped.status
    return pb_utils.InferenceResponse(error=pb_utils.TritonError(str(stopped), code))


def internal_error(model_name: str) -> Any:
    return pb_utils.InferenceResponse(
        error=pb_utils.TritonError(f"{model_name} failed on this request; the server log has the details.")
    )


def failure_response(model_name: str, error: BaseException) -> Any:
    """The response for a request that raised: its reason, its stop, or INTERNAL (the traceback goes to the log)."""
    if isinstance(error, InvalidInput):
        return error_response(str(error))
    if isinstance(error, Stopped):
        return stopped_response(error)
    pb_utils.Logger.log_error(f"{model_name}: {''.join(traceback.format_exception(error))}")
    return internal_error(model_name)


def answer(model_name: str, work: Callable[[], Outputs]) -> Any:
    """One request's response from calling ``work()``: its outputs, or its error, never a raise."""
    try:
        return outputs_response(work())
    except Exception as error:
        return failure_response(model_name, error)


async def answer_async(model_name: str, work: Awaitable[Outputs]) -> Any:
    """``answer`` for a coroutine computing one request's outputs."""
    try:
        return outputs_response(await work)
    except Exception as error:
        return failure_response(model_name, error)


class LumaflowModel:
    """Base of every model: reads the config once; subclasses build what requests need in ``setup``."""

    config: dict[str, Any]
    model_name: str

    def initialize(self, args: dict[str, str]) -> None:
        self.config = json.loads(args["model_config"])
        self.model_name = self.config["name"]
        self.model_directory = Path(args["model_repository"])  # <repository>/<model>
        self.version_directory = self.model_directory / str(args["model_version"])
        if nice := cpu_nice(self.config):
            lower_cpu_priority(nice)  # before setup: the engine's threads inherit it
        self.setup(args)

    def setup(self, args: dict[str, str]) -> None:
        """Build what every request needs once (engines, parsed parameters)."""


class RequestModel(LumaflowModel):
    """A model whose requests are answered one by one (decode, encode, the quality check)."""

    def process(self, request: Any) -> Outputs:
        """The outputs of one request; raise ``InvalidInput`` for a bad request."""
        raise NotImplementedError

    def execute(self, requests: Sequence[Any]) -> list[Any]:
        return [answer(self.model_name, functools.partial(self.process, request)) for request in requests]


class AsyncRequestModel(LumaflowModel):
    """A model whose ``execute`` is a coroutine: one instance keeps every request of its batch in flight (BLS)."""

    async def process(self, request: Any) -> Outputs:
        raise NotImplementedError

    async def execute(self, requests: Sequence[Any]) -> list[Any]:
        return list(await asyncio.gather(*(answer_async(self.model_name, self.process(r)) for r in requests)))


# --- deadlines and BLS --------------------------------------------------------------------------------


class Deadline:
    """When a request must be answered (Triton's request ``timeout``), checked before each piece of work.

    Measured with Triton 2.51: a gRPC client's own deadline does not reach the models inside an ensemble
    (``is_cancelled()`` stays false), so clients send their deadline as the request ``timeout`` too.
    """

    def __init__(self, request: Any, work: tuple[str, str]) -> None:
        timeout_us = int(request.timeout() or 0)
        self.request = request
        self.at = time.monotonic() + timeout_us / 1e6 if timeout_us > 0 else None
        self.work = work  # what would be skipped and what doing it is called: ("tiles", "processed")

    def left_us(self) -> int:
        """Microseconds left, for a called model's ``timeout`` (0: none); ``Stopped`` once the client is gone."""
        what, done = self.work
        if self.request.is_cancelled():
            raise Stopped(f"The request was cancelled; its remaining {what} were not {done}.", CANCELLED)
        if self.at is None:
            return 0
        remaining = self.at - time.monotonic()
        if remaining <= 0:
            raise Stopped(f"The request's deadline passed before its remaining {what} were {done}.", DEADLINE)
        return max(1, int(remaining * 1e6))


def _bls(model: str, inputs: Mapping[str, np.ndarray], outputs: Sequence[str], timeout_us: int) -> Any:
    tensors = [pb_utils.Tensor(name, np.ascontiguousarray(value)) for name, value in inputs.items()]
    return pb_utils.InferenceRequest(
        model_name=model, inputs=tensors, requested_output_names=list(outputs), timeout=timeout_us
    )


# The python backend (Triton 2.51) hands a BLS caller the called model's refusals as INTERNAL (measured: a full
# queue); Triton's own message says what it was, so the caller can answer with the status the client expects.
REFUSALS = (
    ("exceeds maximum queue size", "UNAVAILABLE"),  # the client's Overloaded
    ("request timeout expired", "UNAVAILABLE"),  # the client's DeadlineExceeded
)


def bls_status(code: Any, message: str) -> Any:
    """The status to answer with for a BLS error: Triton's own, or the one its message names when it says INTERNAL."""
    if code == pb_utils.TritonError.INTERNAL:
        lowered = message.lower()
        for fragment, status in REFUSALS:
            if fragment in lowered:
                return getattr(pb_utils.TritonError, status)
    return code


def _output(response: Any, model: str, output: str) -> np.ndarray:
    """The called model's output, or ``Stopped`` with its status (a full queue stays UNAVAILABLE: ``Overloaded``)."""
    if response.has_error():
        error = response.error()
        raise Stopped(f"{model}: {error.message()}", bls_status(error.code(), error.message()))
    return pb_utils.get_output_tensor_by_name(response, output).as_numpy()


def call_model(model: str, inputs: Mapping[str, np.ndarray], output: str) -> np.ndarray:
    """One synchronous BLS request (decode's analysis, the quality check's score); its one output."""
    return _output(_bls(model, inputs, (output,), 0).exec(), model, output)


async def call_model_async(model: str, inputs: Mapping[str, np.ndarray], output: str, timeout_us: int) -> np.ndarray:
    """One BLS request from a coroutine (tilers, the router); its one output."""
    return _output(await _bls(model, inputs, (output,), timeout_us).async_exec(), model, output)


async def call_model_outputs_async(
    model: str, inputs: Mapping[str, np.ndarray], outputs: Sequence[str], timeout_us: int
) -> dict[str, np.ndarray]:
    """One BLS request from a coroutine asking for several outputs (the router's guided tilers: pixels and META)."""
    response = await _bls(model, inputs, outputs, timeout_us).async_exec()
    return {name: _output(response, model, name) for name in outputs}

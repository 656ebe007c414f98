"""A neural stage for photos of any size: tiles through the stage's own model, by BLS.

``<stage>_tiles`` sits in the pipeline where the stage would. An image no larger than one tile
goes to the stage whole (one BLS request); a larger one is cut into fixed-size tiles with
context (``lumaflow.server.tiling``) that are all sent to the stage model at once, so its
dynamic batcher stacks them -- with the tiles of every other request in flight, which is what
lets a 12-megapixel photo and a thumbnail share batches. ``execute`` is a coroutine, so one
instance keeps many requests' tiles in flight.

Tiles go out through a sliding window of ``max_tiles_in_flight``, and each is checked before it
is sent: once the request is cancelled or its deadline (Triton's request ``timeout``) has passed,
that request alone is answered with the reason and its remaining tiles are never sent; tiles
already queued carry the remaining time as their own timeout. Measured with Triton 2.51: a gRPC
client's own deadline does not reach the models inside an ensemble (``is_cancelled()`` stays
false), so clients should send their deadline as the request ``timeout`` too.
"""

from __future__ import annotations

import asyncio
import json
import time
import traceback
from typing import Any

import numpy as np
import triton_python_backend_utils as pb_utils

from lumaflow.ensemble import contract
from lumaflow.server import tiling
from lumaflow.server.imaging import InvalidInput
from lumaflow.server.models.base import error_response, internal_error, outputs_response


class Stopped(Exception):
    """The request ends early: cancelled, out of time, or refused by the stage; ``str()`` says why."""

    def __init__(self, message: str, code: Any) -> None:
        super().__init__(message)
        self.code = code


class TritonPythonModel:
    def initialize(self, args: dict[str, str]) -> None:
        config = json.loads(args["model_config"])
        self.model_name = config["name"]
        parameters = {key: value["string_value"] for key, value in config.get("parameters", {}).items()}
        self.stage = parameters["stage"]
        self.scale = int(parameters["scale"])
        self.tile = int(parameters["tile"])
        self.context = int(parameters["context"])
        self.in_flight = int(parameters["max_tiles_in_flight"])
        self.pixels_name, *self.side_names = [spec["name"] for spec in config["input"]]
        (self.output_name,) = [spec["name"] for spec in config["output"]]

    async def execute(self, requests: list[Any]) -> list[Any]:
        return list(await asyncio.gather(*(self.respond(request) for request in requests)))

    async def respond(self, request: Any) -> Any:
        try:
            return outputs_response({self.output_name: await self.process(request)})
        except InvalidInput as error:
            return error_response(str(error))
        except Stopped as stopped:
            return pb_utils.InferenceResponse(error=pb_utils.TritonError(str(stopped), stopped.code))
        except Exception:
            pb_utils.Logger.log_error(f"{self.model_name}: {traceback.format_exc()}")
            return internal_error(self.model_name)

    async def process(self, request: Any) -> np.ndarray:
        started = time.monotonic()
        timeout_us = int(request.timeout() or 0)
        deadline = started + timeout_us / 1e6 if timeout_us > 0 else None
        pixels = pb_utils.get_input_tensor_by_name(request, self.pixels_name).as_numpy()
        if pixels.ndim != 4 or pixels.shape[0] != 1:
            raise InvalidInput(
                contract.INVALID_IMAGE, f"{self.pixels_name} must be one image, got {list(pixels.shape)}."
            )
        side = [pb_utils.get_input_tensor_by_name(request, name) for name in self.side_names]
        height, width = pixels.shape[1:3]
        if not tiling.needs_tiling(height, width, self.tile):
            return await self._infer(pixels, side, request, deadline)
        padded = tiling.pad_for_context(pixels[0], self.context)
        output = np.empty((height * self.scale, width * self.scale, pixels.shape[3]), dtype=np.uint8)
        slots = asyncio.Semaphore(self.in_flight)  # a sliding window: the next tile goes as one returns

        async def one(tile: tiling.Tile) -> None:
            async with slots:
                result = await self._infer(tiling.window(padded, tile)[None], side, request, deadline)
            tiling.place(output, result[0], tile, self.context, self.scale)

        tasks = [asyncio.ensure_future(one(tile)) for tile in tiling.plan(height, width, self.tile, self.context)]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:  # after a failure, tiles not yet sent are not sent
                task.cancel()
        return output[None]

    @staticmethod
    def _check(request: Any, deadline: float | None) -> float:
        """Seconds left for ``request`` (inf without a deadline); ``Stopped`` once the client no longer waits."""
        if request.is_cancelled():
            raise Stopped(
                "The request was cancelled; its remaining tiles were not processed.", pb_utils.TritonError.CANCELLED
            )
        if deadline is None:
            return float("inf")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise Stopped(
                "The request's deadline passed before its remaining tiles were processed.",
                pb_utils.TritonError.UNAVAILABLE,
            )
        return remaining

    async def _infer(self, pixels: np.ndarray, side: list[Any], request: Any, deadline: float | None) -> np.ndarray:
        """One request to the stage model, refused up front when the client no longer waits."""
        remaining = self._check(request, deadline)
        timeout_us = 0 if deadline is None else max(1, int(remaining * 1e6))
        inputs = [pb_utils.Tensor(self.pixels_name, np.ascontiguousarray(pixels)), *side]
        call = pb_utils.InferenceRequest(
            model_name=self.stage,
            inputs=inputs,
            requested_output_names=[self.output_name],
            timeout=timeout_us,
        )
        response = await call.async_exec()
        if response.has_error():
            self._check(request, deadline)  # a tile that timed out in the stage's queue: say why
            error = response.error()  # the stage's own answer (a full queue stays UNAVAILABLE)
            raise Stopped(error.message(), error.code())
        return pb_utils.get_output_tensor_by_name(response, self.output_name).as_numpy()

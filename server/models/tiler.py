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
from typing import Any

import numpy as np
import triton_python_backend_utils as pb_utils

from lumaflow.ensemble import contract
from lumaflow.server import tiling
from lumaflow.server.imaging import InvalidInput
from lumaflow.server.mask import navier_stokes_fill
from lumaflow.server.models.base import (
    Stopped,
    deadline_of,
    respond_async,
    time_left,
)

REMAINING = ("tiles", "processed")


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
        self.identity_without = parameters.get("identity_without", "")
        self.prefill = parameters.get("prefill", "")
        self.pixels_name, *self.side_names = [spec["name"] for spec in config["input"]]
        ((self.output_name, self.output_channels),) = [
            (spec["name"], int(spec["dims"][-1])) for spec in config["output"]
        ]

    async def execute(self, requests: list[Any]) -> list[Any]:
        return list(await asyncio.gather(*(self.respond(request) for request in requests)))

    async def respond(self, request: Any) -> Any:
        return await respond_async(self.model_name, self._outputs(request))

    async def _outputs(self, request: Any) -> dict[str, np.ndarray]:
        return {self.output_name: await self.process(request)}

    async def process(self, request: Any) -> np.ndarray:
        deadline = deadline_of(request, time.monotonic())
        pixels = pb_utils.get_input_tensor_by_name(request, self.pixels_name).as_numpy()
        if pixels.ndim != 4 or pixels.shape[0] != 1:
            raise InvalidInput(
                contract.INVALID_IMAGE, f"{self.pixels_name} must be one image, got {list(pixels.shape)}."
            )
        side = [pb_utils.get_input_tensor_by_name(request, name) for name in self.side_names]
        height, width = pixels.shape[1:3]
        # Per-pixel side inputs (HOLE) are cut into the same tiles; per-image ones (NOISE_LEVEL) go whole.
        spatial = {
            tensor.name(): tensor.as_numpy()[0]
            for tensor in side
            if tensor.as_numpy().ndim == 4 and tensor.as_numpy().shape[1:3] == (height, width)
        }
        if self.prefill:  # on the whole photo, so that tiles agree
            # OpenCV releases the GIL: in a thread, a large hole (seconds on a 12 MP photo) does not hold up
            # the tiles of every other request this instance has in flight.
            filled = await asyncio.to_thread(navier_stokes_fill, pixels[0], spatial[self.prefill][..., 0])
            pixels = filled[None]
        if not tiling.needs_tiling(height, width, self.tile):
            if self._unchanged(spatial):
                return pixels
            return await self._infer(pixels, side, request, deadline)
        padded = tiling.pad_for_context(pixels[0], self.context)
        padded_side = {name: tiling.pad_for_context(array, self.context) for name, array in spatial.items()}
        output = np.empty((height * self.scale, width * self.scale, self.output_channels), dtype=np.uint8)
        slots = asyncio.Semaphore(self.in_flight)  # a sliding window: the next tile goes as one returns

        async def one(tile: tiling.Tile) -> None:
            windows = {name: tiling.window(array, tile) for name, array in padded_side.items()}
            if self._unchanged(windows):
                result = tiling.window(padded, tile)[None]
            else:
                tile_side = [
                    pb_utils.Tensor(t.name(), np.ascontiguousarray(windows[t.name()][None]))
                    if t.name() in windows
                    else t
                    for t in side
                ]
                async with slots:
                    result = await self._infer(tiling.window(padded, tile)[None], tile_side, request, deadline)
            tiling.place(output, result[0], tile, self.context, self.scale)

        tasks = [asyncio.ensure_future(one(tile)) for tile in tiling.plan(height, width, self.tile, self.context)]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:  # after a failure, tiles not yet sent are not sent
                task.cancel()
        return output[None]

    def _unchanged(self, spatial: dict[str, np.ndarray]) -> bool:
        """Whether the stage would return these pixels as they are: its ``identity_without`` input is all zero."""
        return bool(self.identity_without) and self.scale == 1 and not spatial[self.identity_without].any()

    async def _infer(self, pixels: np.ndarray, side: list[Any], request: Any, deadline: float | None) -> np.ndarray:
        """One request to the stage model, refused up front when the client no longer waits."""
        remaining = time_left(request, deadline, REMAINING)
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
            time_left(request, deadline, REMAINING)  # a tile that timed out in the stage's queue: say why
            error = response.error()  # the stage's own answer (a full queue stays UNAVAILABLE)
            raise Stopped(error.message(), error.code())
        return pb_utils.get_output_tensor_by_name(response, self.output_name).as_numpy()

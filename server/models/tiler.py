"""``<stage>_tiles``: a neural stage for photos of any size, its tiles sent to the stage model by BLS.

It sits in the pipeline where the stage would. The tiling is the runtime's
(``lumaflow.runtime.tiled.tile_and_run``); here each tile becomes a BLS request to the stage, whose
dynamic batcher stacks it with the tiles of every other request in flight -- which is what lets a
12-megapixel photo and a thumbnail share batches. ``execute`` is a coroutine, so one instance keeps
many requests' tiles in flight. Each tile is checked before it is sent: once the request is cancelled
or its deadline (Triton's request ``timeout``) has passed, that request alone is answered with the
reason and its remaining tiles are never sent; tiles already queued carry the remaining time as their
own timeout. GUIDE, when the pipeline sends it, leaves out the tiles its result will not show; META, when
sent, comes back with this stage's tile counts added (``tiles``: sent, left out); when its OPTIONS name a
``progress`` id, each placed tile is posted on the progress board (``lumaflow.runtime.progress``). When
META says decode already ran this stage (``lumaflow.runtime.one_tile``), the request passes through untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from lumaflow import contract
from lumaflow.params import TilerParams
from lumaflow.runtime.meta import Meta
from lumaflow.runtime.progress import ProgressBoard
from lumaflow.runtime.tiled import TileCounts, tile_and_run
from lumaflow.server.models.base import (
    AsyncRequestModel,
    Deadline,
    Outputs,
    bytes_tensor,
    call_model_async,
    input_array,
    optional_array,
    optional_bytes,
)

PASSED = (contract.GUIDE.name, contract.META.name)  # the tiler's own inputs, not the stage's

REMAINING = ("tiles", "processed")


class TritonPythonModel(AsyncRequestModel):
    def setup(self, args: dict[str, str]) -> None:
        self.params = TilerParams.from_model_config(self.config)
        self.board = ProgressBoard()
        self.pixels_name, *self.side_names = [
            spec["name"] for spec in self.config["input"] if spec["name"] not in PASSED
        ]
        ((self.output_name, self.output_channels),) = [
            (spec["name"], int(spec["dims"][-1])) for spec in self.config["output"] if spec["name"] not in PASSED
        ]
        self.no_output = np.zeros((1, 0, 0, self.output_channels), dtype=np.uint8)

    def _progress(self, meta: Meta | None) -> Callable[[int, int], None] | None:
        """Posts this stage's tiles done of total under the request's OPTIONS ``progress`` id, if it gave one."""
        request_id = None if meta is None else meta.options.get("progress")
        if not request_id:
            return None
        return lambda done, total: self.board.post(str(request_id), self.params.stage, done, total)

    async def process(self, request: Any) -> Outputs:
        meta_bytes = optional_bytes(request, contract.META.name)
        meta = None if meta_bytes is None else Meta.from_bytes(meta_bytes)
        if meta is not None and meta.one_tile is not None:  # decode ran this stage and encoded the result
            return {self.output_name: self.no_output, contract.META.name: input_array(request, contract.META.name)}
        deadline = Deadline(request, REMAINING)
        pixels = input_array(request, self.pixels_name)
        side = {name: input_array(request, name) for name in self.side_names}

        async def infer(tile: np.ndarray, tile_side: dict[str, np.ndarray]) -> np.ndarray:
            timeout_us = deadline.left_us()  # refused up front when the client no longer waits
            inputs = {self.pixels_name: tile, **tile_side}
            try:
                return await call_model_async(self.params.stage, inputs, self.output_name, timeout_us)
            except Exception:
                deadline.left_us()  # a tile that timed out in the stage's queue: say why
                raise

        counts = TileCounts()
        guide = optional_array(request, contract.GUIDE.name)
        output = await tile_and_run(
            self.params,
            pixels,
            side,
            self.output_channels,
            infer,
            guide=None if guide is None else guide[0],
            counts=counts,
            on_tile=self._progress(meta),
        )
        outputs = {self.output_name: output}
        if meta is not None:
            meta = replace(meta, tiles={**meta.tiles, self.params.stage: counts.as_list()})
            outputs[contract.META.name] = bytes_tensor(meta.to_bytes())
        return outputs

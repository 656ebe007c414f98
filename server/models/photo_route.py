"""The router of photo_enhance and old_photo: the runtime's ``route`` with each role called by BLS.

The photo arrives unpadded (a routed pipeline's decode does not pad: the low-light stage needs the
whole photo's statistics) and leaves at the scale OPTIONS chose; META says which stages ran and why.
The roles' models are the tilers (or stages) every other pipeline uses, so a routed photo's tiles
share batches with everyone else's. ``execute`` is a coroutine: one instance keeps many photos in
flight. Before each call the request is checked: a cancelled request, or one past its deadline
(Triton's request ``timeout``), stops without its remaining steps.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lumaflow import contract
from lumaflow.params import RouterParams
from lumaflow.runtime.meta import Meta
from lumaflow.runtime.router import Called, route
from lumaflow.server.models.base import (
    AsyncRequestModel,
    Deadline,
    Outputs,
    bytes_tensor,
    call_model_async,
    call_model_outputs_async,
    input_array,
    optional_array,
    single_bytes,
)

REMAINING = ("stages", "run")


class TritonPythonModel(AsyncRequestModel):
    def setup(self, args: dict[str, str]) -> None:
        self.routes = RouterParams.from_model_config(self.config).routes

    async def process(self, request: Any) -> Outputs:
        deadline = Deadline(request, REMAINING)
        meta_bytes = single_bytes(request, contract.META.name)
        meta = Meta.from_bytes(meta_bytes)

        async def call(role: str, inputs: dict[str, np.ndarray]) -> Called:
            target = self.routes[role]
            if not target.tiled:
                return await call_model_async(target.model, inputs, target.output, deadline.left_us()), None
            # A tiler sends META back with its tile counts.
            inputs = {**inputs, contract.META.name: bytes_tensor(meta_bytes)}
            names = (target.output, contract.META.name)
            outputs = await call_model_outputs_async(target.model, inputs, names, deadline.left_us())
            counted = Meta.from_bytes(outputs[contract.META.name][0, 0])
            return outputs[target.output], counted.tiles.get(target.stage)

        pixels = input_array(request, contract.PIXELS.name)
        guide = optional_array(request, contract.GUIDE.name)
        result, routed = await route(pixels, meta, self.routes, call, guide)
        return {contract.RESULT.name: result, contract.META.name: bytes_tensor(routed.to_bytes())}

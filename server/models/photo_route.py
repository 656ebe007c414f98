"""The router of photo_enhance and old_photo: the analysis network decides, BLS runs the stages it decides on.

A Triton ensemble is a fixed graph and cannot branch, so ``photo_enhance`` is decode -> this
router -> quality check -> encode, and the router calls the analysis network and then, one after
another, the tilers (or stages) that ``lumaflow.server.routing.plan_route`` chose: the same
dynamically batched models every other pipeline uses, so a routed photo's tiles share batches
with everyone else's. ``execute`` is a coroutine: one instance keeps many photos in flight.

The photo arrives unpadded (photo_enhance's decode does not pad: the low-light stage needs the
whole photo's statistics) and leaves at the scale OPTIONS chose; META says which stages ran and
why, with the analysis figures, for INFO. Damage repair (old_photo) is two calls: the damage network's
map, thresholded and grown, becomes the inpainter's HOLE, and INFO reports how much of the photo it
covered; a photo with no damage found skips the inpainter. Between steps the request is checked: a cancelled
request, or one past its deadline (Triton's request ``timeout``), stops without its remaining steps.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import numpy as np
import triton_python_backend_utils as pb_utils

from lumaflow.ensemble import contract
from lumaflow.ensemble.stages import Stage, stage_serving
from lumaflow.server.crops import grid_crops, summarise_analysis
from lumaflow.server.imaging import InvalidInput
from lumaflow.server.models.base import (
    Stopped,
    bytes_tensor,
    deadline_of,
    respond_async,
    single_bytes,
    time_left,
)
from lumaflow.server.routing import Step, damage_hole, plan_route
from lumaflow.server.side_inputs import rounded


class TritonPythonModel:
    def initialize(self, args: dict[str, str]) -> None:
        config = json.loads(args["model_config"])
        self.model_name = config["name"]
        parameters = {key: value["string_value"] for key, value in config.get("parameters", {}).items()}
        self.routes: dict[str, str] = json.loads(parameters["routes"])

    async def execute(self, requests: list[Any]) -> list[Any]:
        return list(await asyncio.gather(*(self.respond(request) for request in requests)))

    async def respond(self, request: Any) -> Any:
        return await respond_async(self.model_name, self.process(request))

    async def process(self, request: Any) -> dict[str, np.ndarray]:
        deadline = deadline_of(request, time.monotonic())
        meta = json.loads(single_bytes(request, contract.META.name))
        options = meta["options"]
        width, height = int(meta["input"]["width"]), int(meta["input"]["height"])
        pixels = pb_utils.get_input_tensor_by_name(request, contract.PIXELS.name).as_numpy()[0, :height, :width]
        scale = int(options["scale"])
        megapixels = width * height * scale * scale / 1e6
        if megapixels > float(meta["max_output_megapixels"]):
            raise InvalidInput(
                contract.IMAGE_TOO_LARGE,
                f"At scale {scale} the result would be {width * scale}x{height * scale} ({megapixels:.1f} megapixels);"
                f" this pipeline writes at most {meta['max_output_megapixels']:g} megapixels.",
            )
        rows = await self._call("analysis", {contract.PIXELS.name: grid_crops(pixels)}, request, deadline)
        analysis = summarise_analysis(rows)
        plan = plan_route(analysis, options)
        ran: list[tuple[Step, Stage]] = []
        for step in plan:
            if step.role == "repair":
                pixels, repaired = await self._repair(pixels, request, deadline)
                meta["analysis"]["damage"] = repaired
                stages = ("damage", "inpaint") if repaired["filled"] else ("damage",)
                ran.extend((step, stage_serving(self.routes[role])) for role in stages)
                continue
            stage = stage_serving(self.routes[step.role])
            inputs = {contract.PIXELS.name: np.ascontiguousarray(pixels[None])}
            if step.noise_level is not None:
                inputs[contract.NOISE_LEVEL.name] = np.array([[step.noise_level]], dtype=np.float32)
            pixels = (await self._call(step.role, inputs, request, deadline))[0]
            ran.append((step, stage))
            if step.role == "colorize":
                meta["source"]["grey"] = False  # encode would write one channel for a grey input
        meta["analysis"]["photo"] = rounded(analysis)
        meta["route"] = [_described(step, stage) for step, stage in ran]
        meta["stages"] = [meta["stages"][0], meta["stages"][1], *(stage.name for _, stage in ran), *meta["stages"][2:]]
        meta["models"].update({stage.name: f"{stage.tiler_name}/1" for _, stage in ran})
        meta["scale"] = scale
        meta["padded"] = {"width": width, "height": height}  # what encode checks the result against
        return {
            contract.RESULT.name: np.ascontiguousarray(pixels[None]),
            contract.META.name: bytes_tensor(json.dumps(meta).encode()),
        }

    async def _repair(
        self, pixels: np.ndarray, request: Any, deadline: float | None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """The damage network's map as a HOLE, filled by the inpainter; the photo as it was when none is found."""
        inputs = {contract.PIXELS.name: np.ascontiguousarray(pixels[None])}
        damage = (await self._call("damage", inputs, request, deadline))[0, :, :, 0]
        hole, figures = damage_hole(damage)
        if hole is None:
            return pixels, figures
        inputs[contract.HOLE.name] = np.ascontiguousarray(hole[None, :, :, None])
        return (await self._call("inpaint", inputs, request, deadline))[0], figures

    async def _call(self, role: str, inputs: dict[str, np.ndarray], request: Any, deadline: float | None) -> np.ndarray:
        """One BLS request to the model of ``role``; its first output. Refused once the client no longer waits."""
        remaining = time_left(request, deadline, ("stages", "run"))
        remaining_us = 0 if deadline is None else max(1, int(remaining * 1e6))
        model = self.routes[role]
        (output,) = stage_serving(model).outputs
        call = pb_utils.InferenceRequest(
            model_name=model,
            inputs=[pb_utils.Tensor(name, value) for name, value in inputs.items()],
            requested_output_names=[output.name],
            timeout=remaining_us,
        )
        response = await call.async_exec()
        if response.has_error():
            error = response.error()
            raise Stopped(f"{model}: {error.message()}", error.code())
        return pb_utils.get_output_tensor_by_name(response, output.name).as_numpy()


def _described(step: Step, stage: Stage) -> dict[str, Any]:
    entry: dict[str, Any] = {"stage": stage.name, "why": step.reason}
    if step.noise_level is not None:
        entry["noise_level"] = round(step.noise_level, 2)
    return entry

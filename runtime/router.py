"""The router of photo_enhance and old_photo as a pure coroutine: the analysis decides, ``call`` runs the stages.

A Triton ensemble is a fixed graph and cannot branch, so ``photo_enhance`` is decode -> a router ->
quality check -> encode. ``route`` asks the analysis network, plans the steps
(``lumaflow.runtime.routing.plan_route``) and calls each chosen role through ``call``: by BLS in the
served router (``lumaflow.server.models.photo_route``), so a routed photo's tiles share batches with
everyone else's; in this process in the offline evaluation. Damage repair (old_photo) is two calls: the
damage network's map, thresholded, becomes the inpainter's HOLE; a photo with no damage found skips the
inpainter. ``call`` raises to stop the request (cancelled, past its deadline, refused by a stage).
GUIDE, when the request has one, goes to every guided role (the tilers that return pixels), which leave
out the tiles the result will not show and say how many (META's ``tiles``); untiled stages (low light,
colourisation) read the whole photo.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any

import numpy as np

from lumaflow import contract
from lumaflow.params import Route
from lumaflow.runtime.crops import grid_crops, summarise_analysis
from lumaflow.runtime.errors import InvalidInput
from lumaflow.runtime.meta import Meta, RouteStep
from lumaflow.runtime.noise_map import asks_estimator, read_noise_map
from lumaflow.runtime.routing import damage_hole, plan_route
from lumaflow.runtime.side_inputs import rounded

# One request to a role's model: its inputs by name -> its one output, and a tiler's [tiles sent, left out].
Called = tuple[np.ndarray, list[int] | None]
Call = Callable[[str, dict[str, np.ndarray]], Awaitable[Called]]


def _check_scale(meta: Meta, scale: int) -> None:
    megapixels = meta.width * meta.height * scale * scale / 1e6
    if megapixels > meta.max_output_megapixels:
        raise InvalidInput(
            contract.IMAGE_TOO_LARGE,
            f"At scale {scale} the result would be {meta.width * scale}x{meta.height * scale} ({megapixels:.1f}"
            f" megapixels); this pipeline writes at most {meta.max_output_megapixels:g} megapixels.",
        )


class _Guided:
    """``call`` with GUIDE added for the guided roles, and their tile counts kept by stage."""

    def __init__(self, call: Call, routes: Mapping[str, Route], guide: np.ndarray | None) -> None:
        self.call, self.routes, self.guide = call, routes, guide
        self.tiles: dict[str, list[int]] = {}

    async def __call__(self, role: str, inputs: dict[str, np.ndarray]) -> np.ndarray:
        target = self.routes[role]
        if self.guide is not None and target.guided:
            inputs = {**inputs, contract.GUIDE.name: self.guide}
        output, counts = await self.call(role, inputs)
        if counts is not None:
            self.tiles[target.stage] = counts
        return output


async def _repair(pixels: np.ndarray, call: _Guided) -> tuple[np.ndarray, dict[str, Any]]:
    """The damage network's map as a HOLE, filled by the inpainter; the photo as it was when none is found."""
    inputs = {contract.PIXELS.name: np.ascontiguousarray(pixels[None])}
    damage = (await call("damage", inputs))[0, :, :, 0]
    hole, figures = damage_hole(damage)
    if hole is None:
        return pixels, figures
    inputs[contract.HOLE.name] = np.ascontiguousarray(hole[None, :, :, None])
    return (await call("inpaint", inputs))[0], figures


async def route(
    pixels: np.ndarray, meta: Meta, routes: Mapping[str, Route], bare_call: Call, guide: np.ndarray | None = None
) -> tuple[np.ndarray, Meta]:
    """One photo ([1, H, W, 3], unpadded or padded) through the stages its analysis and OPTIONS call for.

    ``guide`` is GUIDE ([1, H, W], or None / [1, 0, 0] for the whole photo). Returns the result (unpadded, at
    the chosen scale) and META with the route, the analysis, the scale and the tiles of each stage.
    """
    call = _Guided(bare_call, routes, guide if guide is not None and guide.size else None)
    options = meta.options
    photo = pixels[0, : meta.height, : meta.width]
    scale = int(options["scale"])
    _check_scale(meta, scale)
    analysis = summarise_analysis(await call("analysis", {contract.PIXELS.name: grid_crops(photo)}))
    figures = dict(meta.analysis)
    grey = meta.source.grey
    ran: list[RouteStep] = []
    file_quality = meta.input.get("jpeg_quality")
    for step in plan_route(analysis, options, None if file_quality is None else float(file_quality)):
        if step.role == "repair":
            photo, figures["damage"] = await _repair(photo, call)
            roles = ("damage", "inpaint") if figures["damage"]["filled"] else ("damage",)
            ran.extend(RouteStep(routes[role].stage, routes[role].model, step.reason) for role in roles)
            continue
        inputs = {contract.PIXELS.name: np.ascontiguousarray(photo[None])}
        if step.role == "denoise" and asks_estimator(options):
            reading = read_noise_map(
                analysis["noise_sigma"], await call("noise_map", {contract.PIXELS.name: grid_crops(photo)})
            )
            figures["noise_map"] = reading.figures()
            reason = f"{step.reason}; σ from the noise-map estimator" if reading.used else step.reason
            step = replace(step, noise_level=reading.sigma, reason=reason)
        if step.noise_level is not None:
            inputs[contract.NOISE_LEVEL.name] = np.array([[step.noise_level]], dtype=np.float32)
        if step.jpeg_quality is not None:
            inputs[contract.JPEG_QUALITY.name] = np.array([[step.jpeg_quality]], dtype=np.float32)
        photo = (await call(step.role, inputs))[0]
        stage, model = routes[step.role].stage, routes[step.role].model
        ran.append(RouteStep(stage, model, step.reason, step.noise_level, step.jpeg_quality))
        if step.role == "colorize":
            grey = False  # encode would write one channel for a grey input
    figures["photo"] = rounded(analysis)
    routed = replace(
        meta,
        analysis=figures,
        route=tuple(ran),
        scale=scale,
        padded_width=meta.width,  # the result is unpadded: what encode checks it against
        padded_height=meta.height,
        source=replace(meta.source, grey=grey),
        tiles={**meta.tiles, **call.tiles},
    )
    return np.ascontiguousarray(photo[None]), routed

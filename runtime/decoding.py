"""A pipeline's first step as a pure function: encoded bytes and OPTIONS in; pixels, side inputs and META out.

The served decode model (``lumaflow.server.models.decode``) and the offline evaluation both call
``decode_request``; only how the analysis network is asked differs (a BLS request, or an engine in
this process), so what is evaluated is what is served.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from lumaflow import contract
from lumaflow.params import DecodeParams
from lumaflow.runtime.crops import grid_crops, summarise_analysis
from lumaflow.runtime.guidance import NO_GUIDE, region_guide
from lumaflow.runtime.imaging import Limits, decode_image, pad_to_buckets
from lumaflow.runtime.meta import Meta, Source
from lumaflow.runtime.options import OptionsParser
from lumaflow.runtime.side_inputs import PROVIDERS, Analysis, SideContext

NO_ALPHA = np.zeros((0, 0), dtype=np.uint8)

# The analysis network's rows for a batch of crops: [crops, 64, 64, 3] -> [crops, len(ANALYSIS_FIELDS)].
AnalysisCall = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Decoder:
    """What one pipeline's decode builds once: its parameters, OPTIONS parser, limits and side inputs."""

    params: DecodeParams
    options: OptionsParser
    side_inputs: tuple[str, ...]  # the side tensors its stages take (NOISE_LEVEL, HOLE, TEMPLATE, STRENGTH)

    @classmethod
    def create(cls, params: DecodeParams, schema: Mapping[str, Any], side_inputs: tuple[str, ...]) -> Decoder:
        unknown = [name for name in side_inputs if name not in PROVIDERS]
        if unknown:
            raise ValueError(f"{params.pipeline}: no provider computes the side inputs {unknown}")
        # The one-tile path holds photo_compute through decode: a BLS call to a network from there would wait for
        # what decode holds, so what the side inputs ask it must run itself.
        if params.one_tile is not None and (
            (side_inputs and params.analysis_in_decode is None)
            or (params.noise_map_model and params.noise_map_in_decode is None)
        ):
            raise ValueError(
                f"{params.pipeline}: a decode that runs the network itself must run what its side inputs ask too"
            )
        return cls(params, OptionsParser(dict(schema), params.presets), side_inputs)

    @property
    def limits(self) -> Limits:
        return Limits(
            max_megapixels=self.params.max_input_megapixels,
            max_megabytes=self.params.max_input_megabytes,
            max_output_megapixels=self.params.max_output_megapixels,
            scale=self.params.scale,
        )


@dataclass(frozen=True)
class Decoded:
    """decode's outputs for one request: the first stage's pixels, the alpha plane, META and the side inputs."""

    pixels: np.ndarray  # [1, H, W, 3], padded to the size bucket when the photo fits one tile
    alpha: np.ndarray  # [1, H, W] at input size, or [1, 0, 0] when opaque
    meta: Meta
    side: dict[str, np.ndarray]
    guide: np.ndarray  # [1, H, W] padded as the pixels, or [1, 0, 0]: the result everywhere

    def outputs(self) -> dict[str, np.ndarray]:
        """The tensors by name, META as its JSON bytes (a [1, 1] string)."""
        return {
            contract.PIXELS.name: self.pixels,
            contract.ALPHA.name: self.alpha,
            contract.META.name: np.array([[self.meta.to_bytes()]], dtype=np.object_),
            contract.GUIDE.name: self.guide,
            **self.side,
        }


def analysis_of(call: AnalysisCall) -> Callable[[np.ndarray], Analysis]:
    """The photo's reading: its grid crops through the analysis network in one call, summarised."""
    return lambda pixels: summarise_analysis(call(grid_crops(pixels)))


def estimates_of(call: AnalysisCall) -> Callable[[np.ndarray], np.ndarray]:
    """The noise-map estimator's level for each of the photo's grid crops, in one call."""
    return lambda pixels: call(grid_crops(pixels))


def _guidance(
    params: DecodeParams, chosen: dict[str, Any], region: bytes | None, size: tuple[int, int], padded: tuple[int, int]
) -> tuple[np.ndarray, dict[str, Any] | None]:
    """GUIDE (padded as the pixels, or 0x0) and INFO's guidance (None when the whole result is returned)."""
    if region is not None and not params.takes_region:
        raise ValueError(f"{params.pipeline} takes no REGION")  # its ensemble has no such input
    strength = float(chosen["strength"]) if params.blends_strength else 1.0
    width, height = size
    guide, figures = NO_GUIDE, None
    if region is not None:
        guide, figures = region_guide(region, width, height, chosen["region_mode"], float(chosen["region_feather"]))
    if strength == 0:  # the input exactly: every tile is left out
        guide = np.zeros((height, width), dtype=np.uint8)
    if figures is None and strength == 1:
        return NO_GUIDE, None
    if guide.size:
        guide = np.pad(guide, ((0, padded[0] - height), (0, padded[1] - width)))
    told = {"strength": strength} if params.blends_strength else {}
    return guide, {**told, **({"region": figures} if figures else {})}


def decode_request(
    decoder: Decoder,
    image: bytes,
    options: bytes | None,
    mask: bytes | None,
    analyse: AnalysisCall,
    region: bytes | None = None,
    estimate: AnalysisCall | None = None,
) -> Decoded:
    """Decode, validate OPTIONS, pad and compute the side inputs and GUIDE of one request; ``InvalidInput`` if it
    is bad. ``estimate`` asks the noise-map estimator (for crops, like ``analyse``); None where none is served."""
    started = time.perf_counter()
    params = decoder.params
    chosen = decoder.options.parse(options)
    decoded = decode_image(image, limits=decoder.limits, keep_gps=bool(chosen["keep_gps"]))
    # Photos up to one tile are padded to a bucket to batch with others whole; the stage's
    # tiler cuts larger ones into fixed-size tiles, so padding them would only add work.
    fits_one_tile = not params.bucket_max_side or max(decoded.width, decoded.height) <= params.bucket_max_side
    padded = pad_to_buckets(decoded.pixels, params.size_buckets) if fits_one_tile else decoded.pixels
    returned = None
    if chosen["color_profile"] == "source" and decoded.profile is not None and decoded.profile.returnable:
        returned = decoded.profile
    context = SideContext(
        decoded.pixels,
        padded,
        chosen,
        mask,
        analysis_of(analyse),
        params.templates,
        file_jpeg_quality=decoded.jpeg_quality,
        estimator=None if estimate is None else estimates_of(estimate),
    )
    guide, guidance = _guidance(params, chosen, region, (decoded.width, decoded.height), padded.shape[:2])
    side: dict[str, np.ndarray] = {}
    analysis: dict[str, Any] = {}
    for name in decoder.side_inputs:
        side[name], figures = PROVIDERS[name](context)
        analysis.update(figures)
    meta = Meta(
        pipeline=params.pipeline,
        input=decoded.describe(),
        source=Source(
            grey=decoded.grey,
            exif=base64.b64encode(decoded.exif).decode(),
            icc=base64.b64encode(returned.icc).decode() if returned else "",
            icc_description=returned.description if returned else "",
        ),
        padded_width=int(padded.shape[1]),
        padded_height=int(padded.shape[0]),
        options=chosen,
        max_output_megapixels=params.max_output_megapixels,
        analysis=analysis,
        decode_ms=(time.perf_counter() - started) * 1e3,
        handoff_ns=time.monotonic_ns(),
        scale=params.scale,
        guidance=guidance,
    )
    alpha = decoded.alpha if decoded.alpha is not None else NO_ALPHA
    return Decoded(pixels=padded[None], alpha=alpha[None], meta=meta, side=side, guide=guide[None])

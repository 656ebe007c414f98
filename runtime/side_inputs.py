"""Per-request tensors that decode computes for a pipeline's stages besides the pixels.

Each provider turns one request's `SideContext` (the decoded photo, its padded pixels, OPTIONS,
the MASK bytes and, on demand, the analysis network's reading of the photo) into one stage input
and the figures INFO reports about it. The analysis runs at most once per request, and only when
a provider asks for it: a client that gives ``noise_level`` costs no analysis. The noise-map estimator likewise
runs only when ``noise_level`` asks for it (OPTIONS ``noise_map`` auto, no ``noise_level`` given).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lumaflow import contract
from lumaflow.runtime.jpeg_quality import told_quality
from lumaflow.runtime.mask import decode_mask, grow
from lumaflow.runtime.noise_map import asks_estimator, read_noise_map

Analysis = dict[str, float]


@dataclass
class SideContext:
    pixels: np.ndarray  # the decoded photo, uint8 HxWx3, unpadded
    padded: np.ndarray  # what the first stage gets
    options: dict[str, Any]
    mask: bytes | None
    analyser: Callable[[np.ndarray], Analysis]
    templates: tuple[str, ...] = ()  # the looks in the looks network's order (TEMPLATE is an index into them)
    file_jpeg_quality: float | None = None  # a JPEG's quality from its quantisation tables
    # The noise-map estimator's level per grid crop of the photo (None: the pipeline has no estimator to ask).
    estimator: Callable[[np.ndarray], np.ndarray] | None = None
    _analysis: Analysis | None = field(default=None, init=False)

    def analysis(self) -> Analysis:
        if self._analysis is None:
            self._analysis = self.analyser(self.pixels)
        return self._analysis


Provider = Callable[[SideContext], tuple[np.ndarray, dict[str, Any]]]


def rounded(analysis: Analysis) -> dict[str, float]:
    return {name: round(value, 3 if name.startswith("p_") else 2) for name, value in analysis.items()}


def noise_level(context: SideContext) -> tuple[np.ndarray, dict[str, Any]]:
    """σ from OPTIONS ``noise_level`` when given; else, with OPTIONS ``noise_map`` auto, the analysis network's or
    the noise-map estimator's (`lumaflow.runtime.noise_map`); with ``noise_map`` off, the analysis network's."""
    sigma = context.options.get("noise_level")
    figures: dict[str, Any] = {}
    source = "options"
    if sigma is None:
        analysis = context.analysis()
        sigma, source = analysis["noise_sigma"], "analysis network"
        figures["photo"] = rounded(analysis)
        if asks_estimator(context.options) and context.estimator is not None:
            reading = read_noise_map(sigma, context.estimator(context.pixels))
            figures["noise_map"] = reading.figures()
            if reading.used:
                sigma, source = reading.sigma, "noise-map estimator"
    figures["noise_level"] = {"sigma": round(float(sigma), 2), "source": source}
    return np.array([[sigma]], dtype=np.float32), figures


def jpeg_quality(context: SideContext) -> tuple[np.ndarray, dict[str, Any]]:
    """The quality the file was saved at, from its quantisation tables; the analysis network's estimate when the
    tables are gone (a PNG of a once-compressed photo)."""
    figures: dict[str, Any] = {}
    quality = context.file_jpeg_quality
    source = "the file's quantisation tables"
    if quality is None:
        analysis = context.analysis()
        quality, source = analysis["jpeg_quality"], "analysis network"
        figures["photo"] = rounded(analysis)
    quality = told_quality(quality)
    figures["jpeg_quality"] = {"quality": round(quality, 1), "source": source}
    return np.array([[quality]], dtype=np.float32), figures


def hole(context: SideContext) -> tuple[np.ndarray, dict[str, Any]]:
    """MASK decoded at the photo's size, grown by OPTIONS ``mask_grow``, zero-padded like the pixels."""
    if context.mask is None:
        raise ValueError("the pipeline's ensemble sends no MASK")
    height, width = context.pixels.shape[:2]
    mask = grow(decode_mask(context.mask, width, height), int(context.options.get("mask_grow", 0)))
    padded = np.zeros((*context.padded.shape[:2], 1), dtype=np.uint8)
    padded[:height, :width, 0] = mask
    figures = {"mask": {"fraction": round(float(mask.mean()), 5), "grown_px": int(context.options.get("mask_grow", 0))}}
    return padded[None], figures


def template(context: SideContext) -> tuple[np.ndarray, dict[str, Any]]:
    """The look OPTIONS ``template`` names, as the looks network's index (the schema has checked the name)."""
    name = str(context.options["template"])
    figures = {"template": {"name": name, "strength": float(context.options["strength"])}}
    return np.array([[context.templates.index(name)]], dtype=np.int32), figures


def strength(context: SideContext) -> tuple[np.ndarray, dict[str, Any]]:
    """How much of the look: 0 keeps the photo, 1 applies it fully (INFO reports it with the template)."""
    return np.array([[context.options["strength"]]], dtype=np.float32), {}


PROVIDERS: dict[str, Provider] = {
    contract.NOISE_LEVEL.name: noise_level,
    contract.JPEG_QUALITY.name: jpeg_quality,
    contract.HOLE.name: hole,
    contract.TEMPLATE.name: template,
    contract.STRENGTH.name: strength,
}

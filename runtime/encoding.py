"""A photo pipeline's last step as a pure function: crop the padding away, encode (PNG by default), write INFO.

INFO joins the pipeline's static card (read once: ``served_cards``) with the request's META. The
served encode model (``lumaflow.server.models.encode``) and the offline evaluation both call
``encode_result``.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from lumaflow.params import PipelineCard
from lumaflow.runtime.colour import SourceProfile
from lumaflow.runtime.imaging import encode_image
from lumaflow.runtime.meta import Meta


def served_cards(cards: dict[str, PipelineCard], repository: Path) -> dict[str, dict[str, Any]]:
    """Each card as INFO reports it, each network with the sha256 of the weights its served graph was built from.

    Read once at start from the build records beside the graphs (a network without a record is reported as
    declared).
    """
    served = {}
    for name, card in cards.items():
        networks = {}
        for stage, network in card.networks.items():
            entry: dict[str, Any] = {
                "architecture": network.architecture,
                "weights": network.weights,
                "source": network.source,
                "licence": network.licence,
            }
            record = repository / network.record
            if record.is_file():
                entry["sha256"] = json.loads(record.read_text()).get("weights_sha256", "")[:16]
            networks[stage] = entry
        served[name] = {
            "stages": list(card.stages),
            "models": dict(card.models),
            "networks": networks,
            "version": card.version,
        }
    return served


def _stages_and_models(card: dict[str, Any], meta: Meta) -> tuple[list[str], dict[str, str]]:
    """The card's stages and models, with the stages a router ran put in its place."""
    stages, models = list(card["stages"]), dict(card["models"])
    if meta.route is not None:
        stages = [*stages[:2], *(step.stage for step in meta.route), *stages[2:]]
        models.update({step.stage: f"{step.model}/1" for step in meta.route})
    return stages, models


def _guidance_info(meta: Meta) -> dict[str, Any]:
    """INFO's ``tiles`` (per tiled stage: sent to the network, left out), and with guidance ``strength`` and
    ``region`` (mode, coverage, feather, the tiles left out over every stage)."""
    info: dict[str, Any] = {}
    if meta.tiles:
        info["tiles"] = {stage: {"sent": sent, "left_out": left} for stage, (sent, left) in meta.tiles.items()}
    if meta.guidance is not None:
        if "strength" in meta.guidance:
            info["strength"] = meta.guidance["strength"]
        region = meta.guidance.get("region")
        if region is not None:
            info["region"] = {**region, "tiles_left_out": sum(left for _, left in meta.tiles.values())}
    return info


@dataclass(frozen=True)
class Written:
    """A result as the client gets it: the file, its format, encode's notes on it, and the time writing took."""

    data: bytes
    format: str
    notes: dict[str, Any]
    ms: float


def write_result(pixels: np.ndarray, alpha: np.ndarray, meta: Meta, guided: np.ndarray | None = None) -> Written:
    """The file of ``pixels`` ([1, H, W, 3] at META's scale, padded as META says): cropped, encoded as OPTIONS ask,
    with the input's alpha, EXIF and (when asked back) profile.

    ``guided`` ([1, h, w, 3] unpadded at the output size, the quality check's GUIDED) replaces the pixels when the
    request had guidance; empty or None, the pixels are written."""
    started = time.perf_counter()
    if guided is not None and guided.size:
        pixels = guided
        meta = replace(meta, padded_width=meta.width, padded_height=meta.height)
    pixels, alpha = pixels[0], alpha[0]
    scale = meta.scale
    if pixels.shape != (meta.padded_height * scale, meta.padded_width * scale, 3):
        raise RuntimeError(
            f"pixels of shape {pixels.shape} do not match {meta.padded_width}x{meta.padded_height} at scale {scale}"
        )
    width, height = meta.width * scale, meta.height * scale
    options, source = meta.options, meta.source
    profile = SourceProfile(base64.b64decode(source.icc), source.icc_description, "RGB") if source.icc else None
    encoded, fmt, notes = encode_image(
        pixels[:height, :width],
        fmt=options["format"],
        quality=options["quality"],
        alpha=alpha if alpha.size else None,
        grey=source.grey,
        exif=base64.b64decode(source.exif),
        profile=profile,
    )
    if options["color_profile"] == "source" and profile is None:
        notes["color_profile"] = "sRGB (the input has no RGB profile to return to)"
    return Written(encoded, fmt, notes, (time.perf_counter() - started) * 1e3)


def result_info(meta: Meta, card: dict[str, Any], arrived_ns: int, written: Written) -> dict[str, Any]:
    """INFO of a result ``written`` by encode (which began at ``arrived_ns``), or by decode on the one-tile path
    (META's ``one_tile``: ``written`` is then encode's reading of it)."""
    scale, network_ms, encode_ms = meta.scale, 0.0, written.ms
    if meta.one_tile is not None:
        network_ms, encode_ms = meta.one_tile.network_ms, encode_ms + meta.one_tile.encode_ms
    stages, models = _stages_and_models(card, meta)
    # Stages are decode, the neural stages, quality_check, encode; the gap between decode's handoff and
    # encode's arrival is the neural stages' (queueing included) plus the quality check's own time.
    timings = {
        stages[0]: round(meta.decode_ms, 3),
        "+".join(stages[1:-2]): round(network_ms + (arrived_ns - meta.handoff_ns) / 1e6 - meta.quality_ms, 3),
        stages[-2]: round(meta.quality_ms, 3),
        stages[-1]: round(encode_ms, 3),
    }
    output = {"width": meta.width * scale, "height": meta.height * scale, "format": written.format}
    info: dict[str, Any] = {
        "pipeline": meta.pipeline,
        "input": meta.input,
        "output": {**output, **written.notes},
        "stages": stages,
        "timings_ms": timings,
        "models": models,
        "networks": card["networks"],
        "analysis": meta.analysis,
        "version": card["version"],
    }
    if meta.quality is not None:
        info["quality"] = meta.quality
    if meta.route is not None:
        info["route"] = [step.described() for step in meta.route]
    if meta.one_tile is not None:  # decode finished the photo itself: what its network and its encode took
        info["one_tile"] = {"network_ms": round(network_ms, 3), "encode_ms": round(meta.one_tile.encode_ms, 3)}
    info.update(_guidance_info(meta))
    return info


def encode_result(
    pixels: np.ndarray,
    alpha: np.ndarray,
    meta: Meta,
    card: dict[str, Any],
    arrived_ns: int,
    guided: np.ndarray | None = None,
    encoded: bytes | None = None,
) -> tuple[bytes, dict[str, Any]]:
    """The encoded result of ``pixels`` ([1, H, W, 3] at META's scale) and INFO; ``arrived_ns`` is when encode began.

    ``guided``: as ``write_result`` takes it. ``encoded``: the file decode already wrote (META's ``one_tile``),
    returned as it is; the pixels are then not read."""
    if meta.one_tile is None:
        written = write_result(pixels, alpha, meta, guided)
    elif encoded:
        written = Written(encoded, meta.one_tile.format, dict(meta.one_tile.notes), 0.0)
    else:
        raise RuntimeError("META says decode encoded the result, but no ENCODED file came with it")
    return written.data, result_info(meta, card, arrived_ns, written)

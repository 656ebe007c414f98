"""Deep health: each pipeline a server serves runs one tiny real request end to end.

Triton reports a model ready after its python stub has died, and then fails every request to it
(measured with tritonserver 2.51), so "ready" alone cannot tell a working server from a broken
one. A tiny photo (and mask, or raw frame) through every pipeline exercises each stage behind it;
it is what ``lumaflow health --deep`` runs and what a Kubernetes liveness probe should run.
"""

from __future__ import annotations

import io
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from .errors import LumaflowError, Overloaded
from .protocol import PipelineInfo
from .sync import LumaflowClient

PROBE_SIDE = 48  # pixels: big enough for every stage's smallest tile, small enough to be cheap


@dataclass(frozen=True)
class PipelineProbe:
    """One pipeline's answer to its probe request."""

    pipeline: str
    ok: bool
    ms: float
    error: str = ""

    def line(self) -> str:
        return f"{self.pipeline:<24} {'ok' if self.ok else 'FAILED':<7} {self.ms:8.0f} ms  {self.error}".rstrip()


def probe_frame(side: int = PROBE_SIDE) -> np.ndarray:
    """A smooth colour gradient with some texture: a cheap stand-in for a photo (no file needed)."""
    y, x = np.mgrid[0:side, 0:side].astype(np.float32) / side
    texture = (np.sin(x * 40.0) * np.cos(y * 33.0) + 1.0) * 20.0
    planes = [x * 180 + texture, y * 180 + texture, (1 - x) * 150 + texture]
    return np.clip(np.stack(planes, axis=-1), 0, 255).astype(np.uint8)


def probe_png(side: int = PROBE_SIDE) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(probe_frame(side)).save(buffer, format="PNG")
    return buffer.getvalue()


def probe_mask(side: int = PROBE_SIDE) -> np.ndarray:
    """A small square hole in the middle, for pipelines that take a MASK."""
    mask = np.zeros((side, side), dtype=np.uint8)
    mask[side // 3 : side // 2, side // 3 : side // 2] = 255
    return mask


def required_choices(info: PipelineInfo) -> dict[str, Any]:
    """A value for each OPTIONS key the pipeline requires (stylize's template): its first allowed one."""
    schema = info.options_schema
    return {key: schema["properties"][key]["enum"][0] for key in schema.get("required", [])}


def probe_pipeline(client: LumaflowClient, info: PipelineInfo, timeout: float) -> PipelineProbe:
    started = time.monotonic()
    try:
        if info.kind == "camera":
            frame = probe_frame()
            out = client.enhance_frame(frame, info.name, timeout=timeout)
            if out.ndim != 3 or out.shape[2] != 3:
                raise LumaflowError(f"the frame came back with shape {out.shape}")
        else:
            mask = probe_mask() if "MASK" in info.inputs else None
            options = required_choices(info)
            result = client.enhance(probe_png(), info.name, timeout=timeout, mask=mask, **options)
            if min(result.image.size) < 1:
                raise LumaflowError("the result is empty")
    except Overloaded as error:
        # The pipeline answered, from a full queue: alive and busy. A liveness probe that failed here would
        # restart the servers that are working hardest.
        return PipelineProbe(info.name, True, (time.monotonic() - started) * 1e3, f"busy (Overloaded): {error}")
    except LumaflowError as error:
        return PipelineProbe(info.name, False, (time.monotonic() - started) * 1e3, f"{type(error).__name__}: {error}")
    return PipelineProbe(info.name, True, (time.monotonic() - started) * 1e3)


def deep_check(client: LumaflowClient, pipelines: Sequence[str] = (), timeout: float = 60.0) -> list[PipelineProbe]:
    """Probe every pipeline the server serves (or the ones named); a listing failure raises ``LumaflowError``."""
    served = client.pipelines()
    if pipelines:
        unknown = sorted(set(pipelines) - {info.name for info in served})
        if unknown:
            return [PipelineProbe(name, False, 0.0, "UnknownPipeline: not served") for name in unknown]
        served = [info for info in served if info.name in pipelines]
    return [probe_pipeline(client, info, timeout) for info in served]

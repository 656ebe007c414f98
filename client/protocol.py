"""The wire side of a Lumaflow call: tensors in, results out, pipelines described (sync and async alike)."""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import tritonclient.grpc as grpcclient

from lumaflow import contract  # the tensor names, declared once (a light module: no server code)

PHOTO_INPUT, PHOTO_MASK, PHOTO_OPTIONS = contract.IMAGE.name, contract.MASK.name, contract.OPTIONS.name
PHOTO_REGION = contract.REGION.name  # user guidance: where the result applies
PHOTO_OUTPUT, PHOTO_INFO = contract.ENHANCED.name, contract.INFO.name
FRAME_INPUT, FRAME_OUTPUT = contract.FRAME.name, contract.ENHANCED_FRAME.name


def _bytes_input(name: str, value: bytes) -> grpcclient.InferInput:
    tensor = grpcclient.InferInput(name, [1, 1], "BYTES")
    tensor.set_data_from_numpy(np.array([[value]], dtype=np.object_))
    return tensor


def photo_inputs(
    data: bytes, options: dict[str, Any], mask: bytes | None = None, region: bytes | None = None
) -> list[grpcclient.InferInput]:
    """IMAGE, MASK for the inpainting pipeline, REGION where the result applies (the other photo
    pipelines), and OPTIONS when there are any (requests without it get the pipeline's defaults)."""
    inputs = [_bytes_input(PHOTO_INPUT, data)]
    if mask is not None:
        inputs.append(_bytes_input(PHOTO_MASK, mask))
    if region is not None:
        inputs.append(_bytes_input(PHOTO_REGION, region))
    if options:
        inputs.append(_bytes_input(PHOTO_OPTIONS, json.dumps(options).encode()))
    return inputs


PROGRESS_MODEL = "progress"


def new_progress_id() -> str:
    """A fresh id for OPTIONS ``progress`` (32 hex digits: of the contract's pattern, and unguessable)."""
    return secrets.token_hex(16)


def progress_inputs(request_id: str) -> list[grpcclient.InferInput]:
    return [_bytes_input(contract.PROGRESS_ID.name, request_id.encode())]


def progress_output(result: Any) -> dict[str, Any]:
    """The progress model's answer: ``{"stages": {stage: [done, total]}, "age_s": s}``, or {} before any tile."""
    answer: dict[str, Any] = json.loads(result.as_numpy(contract.PROGRESS.name).reshape(-1)[0])
    return answer


def photo_options(preset: str | None, options: dict[str, Any], **named: Any) -> dict[str, Any]:
    """The OPTIONS of one call: ``options``, the keys ``enhance`` names (``strength``, ``region_mode``,
    ``region_feather``; None = not given) and ``preset``.

    A key both named and in ``options`` raises TypeError, as Python does for a keyword given twice:
    neither value silently wins.
    """
    given = {key: value for key, value in named.items() if value is not None}
    twice = sorted(given.keys() & options.keys())
    if twice:
        raise TypeError(f"enhance() got multiple values for keyword argument {twice[0]!r}")
    return {**options, **given, **({"preset": preset} if preset is not None else {})}


def photo_outputs(result: Any) -> tuple[bytes, dict[str, Any]]:
    enhanced = result.as_numpy(PHOTO_OUTPUT)
    info = result.as_numpy(PHOTO_INFO)
    return bytes(enhanced.reshape(-1)[0]), json.loads(info.reshape(-1)[0])


def frame_inputs(frame: np.ndarray) -> list[grpcclient.InferInput]:
    """One uint8 HxWx3 frame as a [1, H, W, 3] FRAME request."""
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise TypeError(f"a camera frame must be uint8 HxWx3, got {frame.dtype} {frame.shape}")
    tensor = grpcclient.InferInput(FRAME_INPUT, [1, *frame.shape], "UINT8")
    tensor.set_data_from_numpy(np.ascontiguousarray(frame[None]))
    return [tensor]


@dataclass(frozen=True)
class TemplateInfo:
    """One look of a pipeline with templates (``stylize``): OPTIONS ``template`` takes its name."""

    name: str
    description: str
    thumbnail: bytes = b""  # a small JPEG of the look on a real photo; empty when the server has none
    category: str = ""  # e.g. "film"; the pipeline lists its looks grouped by category
    category_title: str = ""  # e.g. "Film stocks"

    def save_thumbnail(self, folder: Path) -> Path | None:
        """Write the thumbnail as ``<folder>/<name>.jpg``; None when there is none."""
        if not self.thumbnail:
            return None
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.name}.jpg"
        path.write_bytes(self.thumbnail)
        return path


def _template(entry: dict[str, Any]) -> TemplateInfo:
    url = str(entry.get("thumbnail", ""))
    thumbnail = base64.b64decode(url.split(",", 1)[1]) if url.startswith("data:") and "," in url else b""
    return TemplateInfo(
        name=str(entry["name"]),
        description=str(entry.get("description", "")),
        thumbnail=thumbnail,
        category=str(entry.get("category", "")),
        category_title=str(entry.get("category_title", "")),
    )


@dataclass(frozen=True)
class PipelineInfo:
    """A served pipeline as its ensemble config describes it."""

    name: str
    kind: str  # "photo" (IMAGE in, ENHANCED out) or "camera" (FRAME in, ENHANCED_FRAME out)
    description: str
    options_schema: dict[str, Any]
    presets: dict[str, dict[str, Any]]
    inputs: tuple[str, ...] = ()  # the ensemble's input tensors (IMAGE, OPTIONS, MASK, REGION / FRAME)
    templates: tuple[TemplateInfo, ...] = ()  # the looks OPTIONS ``template`` chooses from (stylize)
    # scale, max_input_megapixels, max_input_megabytes, max_output_megapixels (photo pipelines)
    limits: dict[str, float] = field(default_factory=dict)

    def templates_by_category(self) -> dict[str, tuple[TemplateInfo, ...]]:
        """The looks grouped by category title, in the order the server lists them (empty titles: "Looks")."""
        groups: dict[str, list[TemplateInfo]] = {}
        for template in self.templates:
            groups.setdefault(template.category_title or "Looks", []).append(template)
        return {title: tuple(looks) for title, looks in groups.items()}

    @property
    def scale(self) -> int:
        """How many times larger each side of the result is (a routed pipeline's OPTIONS may choose another)."""
        return int(self.limits.get("scale", 1))


def served_models(statistics: dict[str, Any]) -> list[str]:
    """The names of the loaded models, from ``get_inference_statistics(as_json=True)``.

    The statistics protocol, not the repository index: a Lumaflow server keeps the model-repository
    protocol (load, unload, index) to its own supervisor.
    """
    return sorted({str(model["name"]) for model in statistics.get("model_stats", [])})


def pipeline_info(config: dict[str, Any]) -> PipelineInfo | None:
    """The pipeline an ensemble config (``get_model_config(..., as_json=True)['config']``) describes, if any."""
    if config.get("platform") != "ensemble":
        return None
    inputs = {tensor["name"] for tensor in config.get("input", [])}
    kind = "photo" if PHOTO_INPUT in inputs else "camera" if FRAME_INPUT in inputs else ""
    if not kind:
        return None
    parameters = {key: value.get("string_value", "") for key, value in config.get("parameters", {}).items()}
    return PipelineInfo(
        name=config["name"],
        kind=kind,
        description=parameters.get("description", ""),
        options_schema=json.loads(parameters.get("options_schema") or "{}"),
        presets=json.loads(parameters.get("presets") or "{}"),
        inputs=tuple(tensor["name"] for tensor in config.get("input", [])),
        templates=tuple(_template(entry) for entry in json.loads(parameters.get("templates") or "[]")),
        limits=json.loads(parameters.get("limits") or "{}"),
    )

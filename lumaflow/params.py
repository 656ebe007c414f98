"""Typed parameters of each python-backend model kind: written into ``config.pbtxt``, read back by the model.

Triton hands a python-backend model its config's ``parameters`` as strings. Each kind of Lumaflow model
(an embedded neural stage, a tiler, a pipeline's decode, the router, the quality check, encode) has one
frozen dataclass here: the renderer (``lumaflow.ensemble.render``) writes it with ``to_parameters`` and
the model reads it with ``from_parameters``, so a key is spelt once and no model parses strings by hand.

A leaf: the standard library only, so the declarations, the runtime and the serving stubs share it
without importing one another.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

P = TypeVar("P", bound="ModelParams")


@dataclass(frozen=True)
class SizeBuckets:
    """Sizes an image side is padded up to, so that different photos share a batch.

    Triton's dynamic batcher only batches requests whose tensors have the same shape. Padding
    each side up to the next value of a short ladder makes photos of similar size share one
    shape (and a TensorRT profile) at a bounded cost: at most ``1/ratio`` extra pixels per side.
    Sides above the ladder's top are rounded up to a multiple of ``step_above``.
    """

    ladder: tuple[int, ...]
    step_above: int

    def pad_to(self, side: int) -> int:
        """The padded length of an image side of ``side`` pixels."""
        if side <= 0:
            raise ValueError(f"an image side must be positive, got {side}")
        for bucket in self.ladder:
            if side <= bucket:
                return bucket
        return -(-side // self.step_above) * self.step_above


def _encode(value: Any) -> str:
    """One parameter value as Triton's string: plain for str/int/float, 1/0 for bool, else JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return json.dumps(_plain(value), sort_keys=True)


def _plain(value: Any) -> Any:
    """Dataclasses as dicts and tuples as lists, recursively: what JSON holds."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {item.name: _plain(getattr(value, item.name)) for item in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _typed(kind: Any, value: Any) -> Any:
    """JSON ``value`` as the annotated ``kind``: dataclasses, tuples, dicts of them, optionals."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        (kind,) = [arg for arg in args if arg is not type(None)]
        return _typed(kind, value)
    if dataclasses.is_dataclass(kind) and isinstance(kind, type):
        hints = typing.get_type_hints(kind)
        return kind(**{name: _typed(hints[name], item) for name, item in value.items()})
    if origin is tuple:
        item_kind = args[0] if args else Any
        return tuple(_typed(item_kind, item) for item in value)
    if origin is dict and len(args) == 2:
        return {key: _typed(args[1], item) for key, item in value.items()}
    return value


def _decode(kind: Any, text: str) -> Any:
    if kind is str:
        return text
    if kind is bool:
        if text not in ("0", "1"):
            raise ValueError(f"expected 1 or 0, got {text!r}")
        return text == "1"
    if kind is int:
        return int(text)
    if kind is float:
        return float(text)
    return _typed(kind, json.loads(text))


class ModelParams:
    """Base of the parameter classes: one field is one ``config.pbtxt`` parameter of the same name."""

    def to_parameters(self) -> dict[str, str]:
        """Every field as a string, for ``ModelConfig.parameters``."""
        if not dataclasses.is_dataclass(self):
            raise TypeError(f"{type(self).__name__} must be a dataclass to render its parameters")
        return {item.name: _encode(getattr(self, item.name)) for item in dataclasses.fields(self)}

    @classmethod
    def from_parameters(cls: type[P], parameters: Mapping[str, str]) -> P:
        """The parameters a model's config carries, typed; a missing or unreadable key names itself."""
        hints = typing.get_type_hints(cls)
        values = {}
        for item in dataclasses.fields(cls):  # type: ignore[arg-type]
            if item.name not in parameters:
                if item.default is not dataclasses.MISSING or item.default_factory is not dataclasses.MISSING:
                    continue
                raise KeyError(f"{cls.__name__}: the model config has no parameter {item.name!r}")
            try:
                values[item.name] = _decode(hints[item.name], parameters[item.name])
            except (ValueError, TypeError, KeyError) as error:
                raise ValueError(
                    f"{cls.__name__}.{item.name}: cannot read {parameters[item.name]!r}: {error}"
                ) from None
        return cls(**values)

    @classmethod
    def from_model_config(cls: type[P], config: Mapping[str, Any]) -> P:
        """From the parsed ``model_config`` JSON Triton hands ``initialize`` (``parameters.*.string_value``)."""
        raw = config.get("parameters", {})
        return cls.from_parameters({key: value["string_value"] for key, value in raw.items()})


ONNX_RUNTIME = "onnxruntime"
OPENVINO = "openvino"

# Any python-backend model may carry it: the niceness its stub runs at (``lumaflow.ensemble.stages.PHOTO_NICE``).
CPU_NICE_PARAMETER = "cpu_nice"


def cpu_nice(config: Mapping[str, Any]) -> int:
    """The niceness a model's parsed config asks for its stub (0: the default)."""
    return int(config.get("parameters", {}).get(CPU_NICE_PARAMETER, {}).get("string_value", "0"))


@dataclass(frozen=True)
class StageParams(ModelParams):
    """An embedded neural stage (``lumaflow.server.models.stage``): its graph, engine and batching bounds."""

    onnx_file: str
    max_batch_pixels: int
    scale: int = 1
    engine: str = ONNX_RUNTIME  # a name of ``lumaflow.runtime.engines.ENGINES``
    intra_op_threads: int = 1
    # Photo stages (tiled) give their arena back after each call; camera stages keep theirs, since a
    # frame's shape repeats and re-allocating would cost every frame.
    shrink_arena: bool = False
    input_ranges: dict[str, tuple[float, float]] = field(default_factory=dict)  # side input -> (low, high)


@dataclass(frozen=True)
class TilerParams(ModelParams):
    """``<stage>_tiles``: how a photo of any size is cut into the stage's tiles."""

    stage: str
    scale: int
    tile: int
    context: int
    max_tiles_in_flight: int
    identity_without: str = ""  # a per-pixel side input whose all-zero window makes a tile its own result
    prefill: str = ""  # a per-pixel side input filled classically on the whole photo before tiling


@dataclass(frozen=True)
class NetworkCard:
    """Where a stage's network comes from, as INFO reports it (``sha256`` added from the served build record)."""

    architecture: str
    weights: str
    source: str
    licence: str
    record: str  # the build record beside the graph, relative to the model repository


@dataclass(frozen=True)
class PipelineCard:
    """What INFO reports about a pipeline itself; per-request figures are added at run time."""

    pipeline: str
    stages: tuple[str, ...]
    models: dict[str, str]
    networks: dict[str, NetworkCard]
    scale: int
    version: str


@dataclass(frozen=True)
class StageInDecode:
    """A stage model a pipeline's decode runs itself instead of asking it by BLS: on the one-tile path, the network
    and what its side inputs ask (the analysis, the noise-map estimator), since that decode holds ``photo_compute``.

    Its graph is the stage model's own (``<repository>/<stage>/1/<params.onnx_file>``), opened and checked as that
    model opens and checks it (``params``, ``lumaflow.runtime.stage``), so decode and the stage model compute the
    same values."""

    stage: str
    pixels: str  # the stage's input tensor
    output: str  # and its output
    params: StageParams
    side: tuple[str, ...] = ()  # its per-image side inputs, in the graph's order
    side_dtypes: tuple[str, ...] = ()  # and their numpy dtypes (a warm-up call feeds zeros)


@dataclass(frozen=True)
class DecodeParams(ModelParams):
    """A pipeline's own decode (``<pipeline>_decode``): its limits, size buckets, presets and looks."""

    pipeline: str
    scale: int
    max_input_megapixels: float
    max_input_megabytes: float
    max_output_megapixels: float
    bucket_max_side: int  # photos up to this side are padded to a bucket; larger ones go to the tiler whole
    analysis_model: str  # asked by BLS when a side input needs the photo's analysis
    noise_map_model: str = ""  # the noise-map estimator, asked by BLS for OPTIONS noise_map auto ("": none)
    size_buckets: SizeBuckets | None = None
    presets: dict[str, dict[str, Any]] = field(default_factory=dict)
    templates: tuple[str, ...] = ()  # the looks, in the looks network's order: TEMPLATE is an index into them
    takes_region: bool = False  # REGION is an input (every photo pipeline but inpaint)
    blends_strength: bool = False  # OPTIONS strength blends the result with the input (not stylize's own)
    # Set where a photo that fits one tile is run and encoded in decode (``lumaflow.runtime.one_tile``).
    one_tile: StageInDecode | None = None
    # Where decode runs the network itself and its side inputs need them: the analysis and the noise-map estimator,
    # run in decode too (a holder of photo_compute asks no model that needs it).
    analysis_in_decode: StageInDecode | None = None
    noise_map_in_decode: StageInDecode | None = None


@dataclass(frozen=True)
class Route:
    """One role the router may call: the model it sends to, the stage that model serves, and its output."""

    model: str
    stage: str
    output: str
    tiled: bool = False  # a tiler: it takes META and sends it back with its tile counts
    guided: bool = False  # a tiler that takes GUIDE, leaving out the tiles the result will not show


@dataclass(frozen=True)
class RouterParams(ModelParams):
    """``photo_route``: the model behind each role (analysis, denoise, sr_x2, damage, inpaint...)."""

    routes: dict[str, Route]


@dataclass(frozen=True)
class QualityCheckParams(ModelParams):
    """``quality_check``: the quality network it asks by BLS."""

    quality_model: str


@dataclass(frozen=True)
class EncodeParams(ModelParams):
    """``encode``: every pipeline's static card, read once at start, so META carries only per-request facts."""

    cards: dict[str, PipelineCard]

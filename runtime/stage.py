"""A neural stage's batch as pure functions over an ``Engine``: check each request, run same-shape ones together.

Batching is real here, not just in the config: the requests Triton's dynamic batcher hands over
are stacked by shape (decode pads to size buckets, so same-bucket photos share a shape) and each
shape runs as one engine call with batch size = the number of those requests, split only where the
batch would exceed the stage's pixel budget (memory grows with batch x pixels). The served stage
(``lumaflow.server.models.stage``) and the offline evaluation both run batches through ``run_batch``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lumaflow import contract
from lumaflow.params import StageInDecode, StageParams
from lumaflow.runtime.batching import chunk_by_pixels
from lumaflow.runtime.engines import Engine, EnginePolicy, open_engine
from lumaflow.runtime.errors import InvalidInput

Inputs = dict[str, np.ndarray]


@dataclass(frozen=True)
class StageSpec:
    """A stage's tensors as its config declares them: the pixels first, then per-image side inputs."""

    pixels: str
    channels: int
    pixel_rank: int  # with the batch axis: 4 for images [N, H, W, C], 5 for crop sets [N, K, H, W, C]
    side: tuple[str, ...]
    output: str
    params: StageParams

    @property
    def layout(self) -> str:
        return "batch, " + ("crops, " if self.pixel_rank == 5 else "") + f"height, width, {self.channels}"

    def check_graph(self, engine: Engine) -> None:
        """The graph's inputs must be the declared ones, in order (a stale graph fails at load, not per request)."""
        declared = [self.pixels, *self.side]
        if list(engine.input_names) != declared:
            raise ValueError(
                f"{self.params.onnx_file} has inputs {list(engine.input_names)}, the stage declares {declared}"
            )


def open_served_engine(params: StageParams, version_directory: Path) -> Engine:
    """A stage's graph (in ``version_directory``) opened as the served stage model opens it: its engine and threads,
    the arena shrunk after a photo call if asked, and idle threads that never spin (stages share two cores)."""
    policy = EnginePolicy(threads=params.intra_op_threads, spinning=False, shrink_arena=params.shrink_arena)
    return open_engine(params.engine, version_directory / params.onnx_file, policy)


def stage_spec(config: Mapping[str, Any], params: StageParams) -> StageSpec:
    """From the parsed ``model_config`` JSON: its ``input`` and ``output`` lists."""
    pixel_spec, *side_specs = config["input"]
    (output_spec,) = config["output"]
    return StageSpec(
        pixels=pixel_spec["name"],
        channels=int(pixel_spec["dims"][-1]),
        pixel_rank=len(pixel_spec["dims"]) + 1,
        side=tuple(spec["name"] for spec in side_specs),
        output=output_spec["name"],
        params=params,
    )


def checked_inputs(spec: StageSpec, given: Mapping[str, np.ndarray | None]) -> Inputs:
    """One request's inputs, validated; ``InvalidInput`` names what is wrong."""
    pixels = given.get(spec.pixels)
    if (
        pixels is None
        or pixels.dtype != np.uint8
        or pixels.ndim != spec.pixel_rank
        or pixels.shape[-1] != spec.channels
    ):
        shape = None if pixels is None else list(pixels.shape)
        raise InvalidInput(contract.INVALID_IMAGE, f"{spec.pixels} must be uint8 [{spec.layout}], got {shape}.")
    if min(pixels.shape[1:-1]) < 1:  # Triton passes a 0-pixel frame on to the camera stages
        raise InvalidInput(
            contract.INVALID_IMAGE, f"The frame is empty ({pixels.shape[-2]}x{pixels.shape[-3]} pixels)."
        )
    inputs = {spec.pixels: pixels}
    for name in spec.side:
        values = given.get(name)
        if values is None or values.shape[0] != pixels.shape[0]:
            raise InvalidInput(contract.INVALID_IMAGE, f"{name} must have one value per image.")
        if name in spec.params.input_ranges:
            low, high = spec.params.input_ranges[name]
            outside = values[~((values >= low) & (values <= high))]  # NaN is outside too
            if outside.size:
                raise InvalidInput(
                    contract.INVALID_OPTIONS, f"{name} must lie within {low:g} to {high:g}, got {outside.flat[0]:g}."
                )
        inputs[name] = values
    return inputs


def run_batch(spec: StageSpec, engine: Engine, batch: Sequence[Inputs]) -> list[np.ndarray | Exception]:
    """The output of each request of ``batch`` (checked inputs), or the exception its engine call raised.

    Same-shape requests share one engine call, split by the stage's pixel budget; a failed call fails only
    the requests that were in it.
    """
    results: list[np.ndarray | Exception] = [RuntimeError("not run")] * len(batch)
    by_shape: dict[tuple[int, ...], list[int]] = defaultdict(list)
    for index, inputs in enumerate(batch):
        by_shape[inputs[spec.pixels].shape[1:]].append(index)
    for indices in by_shape.values():
        sizes = [int(np.prod(batch[index][spec.pixels].shape[:-1])) for index in indices]
        for chunk in chunk_by_pixels(sizes, spec.params.max_batch_pixels):
            group = [indices[position] for position in chunk]
            feed = {
                name: np.concatenate([batch[index][name] for index in group])
                if len(group) > 1
                else batch[group[0]][name]
                for name in batch[group[0]]
            }
            try:
                output = engine.run(feed, [engine.output_names[0]])[0]
            except Exception as error:  # the engine's own failure: these requests only
                for index in group:
                    results[index] = error
                continue
            offset = 0
            for index in group:
                count = batch[index][spec.pixels].shape[0]
                results[index] = output[offset : offset + count]
                offset += count
    return results


@dataclass(frozen=True)
class OpenedStage:
    """A stage model's checks and engine opened in this process, run one request at a time as the stage model runs
    a request alone: in a one-tile decode (``StageInDecode``), and in the offline evaluation."""

    spec: StageSpec
    engine: Engine

    @classmethod
    def open(cls, stage: StageInDecode, repository: Path) -> OpenedStage:
        """The stage's graph from its own model folder in ``repository``, opened as the stage model opens it and
        checked against the declared inputs (PIXELS first: ``ensemble.render`` renders no other)."""
        channels, pixel_rank = contract.PIXELS.dims[-1], len(contract.PIXELS.dims) + 1
        spec = StageSpec(stage.pixels, channels, pixel_rank, stage.side, stage.output, stage.params)
        return cls.checked(spec, open_served_engine(stage.params, repository / stage.stage / "1"))

    @classmethod
    def checked(cls, spec: StageSpec, engine: Engine) -> OpenedStage:
        """``engine`` for ``spec``, whose graph must take the declared inputs (a stale graph fails here)."""
        spec.check_graph(engine)
        return cls(spec, engine)

    def run(self, inputs: Mapping[str, np.ndarray]) -> np.ndarray:
        """One request's output; ``InvalidInput`` as the stage model answers a bad one."""
        (result,) = run_batch(self.spec, self.engine, [checked_inputs(self.spec, inputs)])
        if isinstance(result, Exception):
            raise result
        return result

    def warm(self, side: int, dtypes: tuple[str, ...]) -> None:
        """One call on zeros, ``side`` px square, so that the first request does not pay for the engine's first."""
        zeros = {name: np.zeros((1, 1), dtype) for name, dtype in zip(self.spec.side, dtypes, strict=True)}
        self.run({self.spec.pixels: np.zeros((1, side, side, self.spec.channels), np.uint8), **zeros})

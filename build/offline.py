"""The served pipelines without a server: the runtime's request functions, every model an engine in this process.

``lumaflow eval`` and the tests that compare against the server run photos through here. It is not a second
serving path: decode, tiling, routing, the quality check and encode are the same functions the python-backend
models call (``lumaflow.runtime``), with the same parameters (rendered from the declarations by the same
generator), and each stage's graph is opened through the same engine registry with the stage's own policy.
Only the hop differs: where a served model sends a BLS request, this calls the other model's function directly.
``untiled=True`` runs each stage's graph on the whole photo instead of its tiles: the reference the tiling is
measured against.
"""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from lumaflow import contract
from lumaflow.ensemble.config import ModelConfig
from lumaflow.ensemble.options import options_schema
from lumaflow.ensemble.pipelines import Pipeline
from lumaflow.ensemble.render import decode_config, pipeline_card, router_params, stage_config, tiler_config
from lumaflow.ensemble.stages import ANALYSIS, NOISE_MAP, QUALITY, STAGES, Stage, stage_serving
from lumaflow.params import DecodeParams, StageParams, TilerParams
from lumaflow.runtime.crops import grid_crops, summarise_analysis
from lumaflow.runtime.decoding import Decoder, decode_request
from lumaflow.runtime.encoding import encode_result, served_cards
from lumaflow.runtime.engines import EnginePolicy, open_engine
from lumaflow.runtime.guidance import guided_result
from lumaflow.runtime.quality_check import quality_check
from lumaflow.runtime.router import route
from lumaflow.runtime.stage import OpenedStage, stage_spec
from lumaflow.runtime.tiled import TileCounts, tile_and_run

REPOSITORY = Path(__file__).resolve().parent.parent / "model_repository"


def triton_json(config: ModelConfig) -> dict[str, Any]:
    """``config`` as the JSON Triton hands a python-backend model's ``initialize`` (the parts our models read)."""
    return {
        "name": config.name,
        "input": [{"name": tensor.name, "dims": list(tensor.dims)} for tensor in config.inputs],
        "output": [{"name": tensor.name, "dims": list(tensor.dims)} for tensor in config.outputs],
        "parameters": {key: {"string_value": value} for key, value in config.parameters.items()},
    }


@dataclass(frozen=True)
class OfflineResult:
    """One request's answer: ENHANCED decoded to pixels, INFO, and the seconds its pipeline's stages took."""

    pixels: np.ndarray
    encoded: bytes
    info: dict[str, Any]
    stage_seconds: float


class OfflineServer:
    """Every model of the repository in this process; graphs from ``repository``, opened once each."""

    def __init__(self, repository: Path = REPOSITORY, *, untiled: bool = False) -> None:
        self.repository = repository
        self.untiled = untiled
        self._stages: dict[str, OpenedStage] = {}
        self._tilers: dict[str, TilerParams] = {}
        self._pipelines: dict[Pipeline, tuple[Decoder, dict[str, Any]]] = {}
        self._timed = 0.0

    def stage(self, stage: Stage) -> OpenedStage:
        """The stage's checks and engine, as its served model builds them from its rendered config."""
        if stage.name not in self._stages:
            config = triton_json(stage_config(stage))
            params = StageParams.from_model_config(config)
            policy = EnginePolicy(threads=params.intra_op_threads, shrink_arena=params.shrink_arena)
            engine = open_engine(params.engine, self.repository / stage.name / "1" / params.onnx_file, policy)
            self._stages[stage.name] = OpenedStage.checked(stage_spec(config, params), engine)
        return self._stages[stage.name]

    def run_stage(self, stage: Stage, inputs: Mapping[str, np.ndarray], *, timed: bool = True) -> np.ndarray:
        """One request to the stage model (no tiling): its checked inputs through its engine."""
        opened = self.stage(stage)
        started = time.perf_counter()
        try:
            return opened.run(inputs)
        finally:
            if timed:
                self._timed += time.perf_counter() - started

    def analyse(self, crops: np.ndarray) -> np.ndarray:
        """The analysis network's rows for crops, as decode's and the router's BLS calls get them."""
        return self.run_stage(ANALYSIS, {contract.PIXELS.name: crops}, timed=False)

    def estimate(self, crops: np.ndarray) -> np.ndarray:
        """The noise-map estimator's per-crop levels, as decode's and the router's BLS calls get them."""
        return self.run_stage(NOISE_MAP, {contract.PIXELS.name: crops}, timed=False)

    def analysis(self, pixels: np.ndarray) -> dict[str, float]:
        """The analysis network's summary of a photo (HxWx3), as decode computes it."""
        return summarise_analysis(self.analyse(grid_crops(pixels)))

    async def call(self, model: str, inputs: dict[str, np.ndarray]) -> tuple[np.ndarray, list[int] | None]:
        """What a BLS request to ``model`` (a stage or its tiler) answers, and a tiler's [tiles sent, left out]."""
        stage = stage_serving(model, STAGES)
        if model == stage.name:
            return self.run_stage(stage, inputs, timed=model not in (ANALYSIS.name, NOISE_MAP.name)), None
        if stage.name not in self._tilers:
            self._tilers[stage.name] = TilerParams.from_model_config(triton_json(tiler_config(stage)))
        params = self._tilers[stage.name]
        pixels_name, *side_names = (tensor.name for tensor in stage.inputs)
        side = {name: inputs[name] for name in side_names}

        async def infer(tile: np.ndarray, tile_side: dict[str, np.ndarray]) -> np.ndarray:
            return self.run_stage(stage, {pixels_name: tile, **tile_side})

        channels = stage.outputs[0].dims[-1]
        guide = inputs.get(contract.GUIDE.name)
        counts = TileCounts()
        # Untiled: the tiler's prefill, then the whole photo in one window with the tiles' context.
        output = await tile_and_run(
            params,
            inputs[pixels_name],
            side,
            channels,
            infer,
            one_window=self.untiled,
            guide=None if guide is None or not stage.guided else guide[0],
            counts=counts,
        )
        return output, counts.as_list()

    def prepared(self, pipeline: Pipeline) -> tuple[Decoder, dict[str, Any]]:
        """What the pipeline's decode and encode build once in ``initialize``: its decoder, and its card as served."""
        if pipeline not in self._pipelines:
            schema = options_schema(pipeline.name, pipeline.options, pipeline.presets)
            params = DecodeParams.from_model_config(triton_json(decode_config(pipeline)))
            decoder = Decoder.create(params, schema, tuple(tensor.name for tensor in pipeline.side_inputs))
            card = served_cards({pipeline.name: pipeline_card(pipeline)}, self.repository)[pipeline.name]
            self._pipelines[pipeline] = (decoder, card)
        return self._pipelines[pipeline]

    def run(
        self,
        pipeline: Pipeline,
        image: bytes,
        options: Mapping[str, Any] | None = None,
        mask: bytes | None = None,
        region: bytes | None = None,
    ) -> OfflineResult:
        """One request through ``pipeline`` (a declared one, or any ``Pipeline`` of declared stages)."""
        return asyncio.run(self._run(pipeline, image, dict(options or {}), mask, region))

    async def _run(
        self, pipeline: Pipeline, image: bytes, options: dict[str, Any], mask: bytes | None, region: bytes | None
    ) -> OfflineResult:
        self._timed = 0.0
        decoder, card = self.prepared(pipeline)
        estimate = self.estimate if decoder.params.noise_map_model else None
        decoded = decode_request(decoder, image, json.dumps(options).encode(), mask, self.analyse, region, estimate)
        pixels, meta, guide = decoded.pixels, decoded.meta, decoded.guide
        if pipeline.router is not None:
            routes = router_params(pipeline.router).routes

            async def call(role: str, inputs: dict[str, np.ndarray]) -> tuple[np.ndarray, list[int] | None]:
                return await self.call(routes[role].model, inputs)

            pixels, meta = await route(pixels, meta, routes, call, guide)
        else:
            for stage in pipeline.stages:
                side = {tensor.name: decoded.side[tensor.name] for tensor in stage.inputs[1:]}
                pixels, counts = await self.call(
                    stage.tiler_name, {stage.inputs[0].name: pixels, contract.GUIDE.name: guide, **side}
                )
                if counts is not None:
                    meta = replace(meta, tiles={**meta.tiles, stage.name: counts})
        stage_seconds = self._timed
        score = lambda crop_sets: self.run_stage(QUALITY, {contract.CROPS.name: crop_sets}, timed=False)  # noqa: E731
        guided = guided_result(decoded.pixels, pixels, guide, meta)
        meta = quality_check(decoded.pixels, pixels if guided is None else guided, meta, score)
        encoded, info = encode_result(pixels, decoded.alpha, meta, card, time.monotonic_ns(), guided)
        with Image.open(io.BytesIO(encoded)) as result:
            decoded_result = np.asarray(result.convert("RGB"), dtype=np.uint8)
        return OfflineResult(decoded_result, encoded, info, stage_seconds)

"""A pipeline's decode step (``<pipeline>_decode``): the runtime's ``decode_request``, the analysis (and the noise-map
estimator) asked by BLS.

One instance per pipeline: its parameters (``DecodeParams``) carry the pipeline's limits, size buckets,
presets and looks; it validates OPTIONS against the pipeline's schema (the file beside the pipeline in
the model repository), so a bad option fails before any work, and hands META on to encode. Where the
parameters name a ``one_tile`` stage, it opens that stage's graph too and finishes a photo that fits one
tile itself (``lumaflow.runtime.one_tile``), handing the file on as ENCODED; it then holds ``photo_compute`` and
runs the analysis and the estimator itself instead of asking them.
"""

from __future__ import annotations

import json
from typing import Any

from lumaflow import contract
from lumaflow.params import DecodeParams
from lumaflow.runtime.decoding import Decoder, decode_request
from lumaflow.runtime.one_tile import OneTileRunner
from lumaflow.runtime.progress import ProgressBoard
from lumaflow.runtime.stage import OpenedStage
from lumaflow.server.models.base import (
    Outputs,
    RequestModel,
    bytes_tensor,
    call_model,
    optional_bytes,
    single_bytes,
)

NOT_ENCODED = bytes_tensor(b"")


class TritonPythonModel(RequestModel):
    def setup(self, args: dict[str, str]) -> None:
        params = DecodeParams.from_model_config(self.config)
        schema = json.loads((self.model_directory.parent / params.pipeline / contract.SCHEMA_FILE).read_text())
        produced = {contract.PIXELS.name, contract.ALPHA.name, contract.META.name, contract.GUIDE.name}
        produced |= {contract.ENCODED.name}  # the one-tile path's file: not a side input
        side = tuple(output["name"] for output in self.config["output"] if output["name"] not in produced)
        self.decoder = Decoder.create(params, schema, side)
        self.board = ProgressBoard()
        repository = self.model_directory.parent
        self.one_tile = None
        if params.one_tile is not None:
            self.one_tile = OneTileRunner.open(params.one_tile, repository, params.bucket_max_side)
        self.analysis, self.estimator = (
            None if stage is None else OpenedStage.open(stage, repository)
            for stage in (params.analysis_in_decode, params.noise_map_in_decode)
        )

    def _analyse(self, crops: Any) -> Any:
        """The analysis network's rows for a photo's grid crops, in one BLS request (or run here: see setup)."""
        if self.analysis is not None:
            return self.analysis.run({contract.PIXELS.name: crops})
        return call_model(self.decoder.params.analysis_model, {contract.PIXELS.name: crops}, contract.ANALYSIS.name)

    def _estimate(self, crops: Any) -> Any:
        """The noise-map estimator's level for each of a photo's grid crops, in one BLS request (or run here)."""
        if self.estimator is not None:
            return self.estimator.run({contract.PIXELS.name: crops})
        model = self.decoder.params.noise_map_model
        return call_model(model, {contract.PIXELS.name: crops}, contract.NOISE_ESTIMATE.name)

    def process(self, request: Any) -> Outputs:
        decoded = decode_request(
            self.decoder,
            single_bytes(request, contract.IMAGE.name),
            optional_bytes(request, contract.OPTIONS.name),
            optional_bytes(request, contract.MASK.name),
            self._analyse,
            optional_bytes(request, contract.REGION.name),
            self._estimate if self.decoder.params.noise_map_model else None,
        )
        if self.one_tile is None:
            return decoded.outputs()
        encoded = NOT_ENCODED
        finished = self.one_tile.finish(decoded)
        if finished is not None:
            decoded, file = finished
            encoded = bytes_tensor(file)
            if progress_id := decoded.meta.options.get("progress"):  # posted as the tiler posts a whole photo
                self.board.post(str(progress_id), self.one_tile.stage, 1, 1)
        return {**decoded.outputs(), contract.ENCODED.name: encoded}

"""The step before encode: the user's guidance applied, then the runtime's ``quality_check`` (the quality network
asked by BLS) on what the client will get.

With a REGION or a strength below 1 (META's ``guidance``) the result is blended with the input
(``lumaflow.runtime.guidance.guided_result``) and sent on as GUIDED, which encode writes instead of the
result; without, GUIDED is empty and costs nothing. OPTIONS ``quality_check`` false skips the quality
network; with no guidance either, the pixel inputs are left unread and META passes through.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lumaflow import contract
from lumaflow.params import QualityCheckParams
from lumaflow.runtime.guidance import guided_result
from lumaflow.runtime.meta import Meta
from lumaflow.runtime.quality_check import quality_check, wanted
from lumaflow.server.models.base import Outputs, RequestModel, bytes_tensor, call_model, input_array, single_bytes

NOT_GUIDED = np.zeros((1, 0, 0, 3), dtype=np.uint8)


class TritonPythonModel(RequestModel):
    def setup(self, args: dict[str, str]) -> None:
        self.quality_model = QualityCheckParams.from_model_config(self.config).quality_model

    def _score(self, crop_sets: np.ndarray) -> np.ndarray:
        return call_model(self.quality_model, {contract.CROPS.name: crop_sets}, contract.QUALITY.name)

    def process(self, request: Any) -> Outputs:
        meta = Meta.from_bytes(single_bytes(request, contract.META.name))
        guided = None
        if meta.guidance is not None or wanted(meta):
            original = input_array(request, contract.ORIGINAL.name)
            result = input_array(request, contract.PIXELS.name)
            guided = guided_result(original, result, input_array(request, contract.GUIDE.name), meta)
            meta = quality_check(original, result if guided is None else guided, meta, self._score)
        return {
            contract.META.name: bytes_tensor(meta.to_bytes()),
            contract.GUIDED.name: NOT_GUIDED if guided is None else guided,
        }

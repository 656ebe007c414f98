"""The quality check before encode: the runtime's ``quality_check``, the quality network asked by BLS.

OPTIONS ``quality_check`` false skips the quality network and leaves the pixel inputs unread: META
passes through.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lumaflow import contract
from lumaflow.params import QualityCheckParams
from lumaflow.runtime.meta import Meta
from lumaflow.runtime.quality_check import quality_check, wanted
from lumaflow.server.models.base import Outputs, RequestModel, bytes_tensor, call_model, input_array, single_bytes


class TritonPythonModel(RequestModel):
    def setup(self, args: dict[str, str]) -> None:
        self.quality_model = QualityCheckParams.from_model_config(self.config).quality_model

    def _score(self, crop_sets: np.ndarray) -> np.ndarray:
        return call_model(self.quality_model, {contract.CROPS.name: crop_sets}, contract.QUALITY.name)

    def process(self, request: Any) -> Outputs:
        meta = Meta.from_bytes(single_bytes(request, contract.META.name))
        if wanted(meta):
            original = input_array(request, contract.ORIGINAL.name)
            meta = quality_check(original, input_array(request, contract.PIXELS.name), meta, self._score)
        return {contract.META.name: bytes_tensor(meta.to_bytes())}

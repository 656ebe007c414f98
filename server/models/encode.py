"""The last step of a photo pipeline: the runtime's ``encode_result`` (crop, encode, INFO); a file decode already
wrote (ENCODED, the one-tile path) is returned as it is.

Every pipeline's card (``EncodeParams``) is read once at start, with the sha256 of each served
network's weights from the build records beside the graphs; META carries only per-request facts.
"""

from __future__ import annotations

import json
import time
from typing import Any

from lumaflow import contract
from lumaflow.params import EncodeParams
from lumaflow.runtime.encoding import encode_result, served_cards
from lumaflow.runtime.meta import Meta
from lumaflow.server.models.base import (
    Outputs,
    RequestModel,
    bytes_tensor,
    input_array,
    optional_bytes,
    single_bytes,
)


class TritonPythonModel(RequestModel):
    def setup(self, args: dict[str, str]) -> None:
        self.cards = served_cards(EncodeParams.from_model_config(self.config).cards, self.model_directory.parent)

    def process(self, request: Any) -> Outputs:
        arrived_ns = time.monotonic_ns()
        meta = Meta.from_bytes(single_bytes(request, contract.META.name))
        pixels = input_array(request, contract.PIXELS.name)
        alpha = input_array(request, contract.ALPHA.name)
        guided = input_array(request, contract.GUIDED.name)
        written = optional_bytes(request, contract.ENCODED.name)  # the one-tile path's file
        card = self.cards[meta.pipeline]
        encoded, info = encode_result(pixels, alpha, meta, card, arrived_ns, guided, written)
        return {
            contract.ENHANCED.name: bytes_tensor(encoded),
            contract.INFO.name: bytes_tensor(json.dumps(info).encode()),
        }

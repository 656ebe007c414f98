"""The probe models of ``python -m lumaflow.bench.lean --probes``, run inside the python backend's stubs.

Each does the least its place in Triton allows, so the lean benchmark can set the shipped pipeline beside floors
it cannot go under (``lumaflow.bench.lean_probes`` writes their repository):

- ``ConstantProbe`` answers every request with the same PNG: gRPC both ways and one stub hop, no work.
- ``WholeProbe`` does the in-process pipeline's work in one model: Pillow decode, the stage's engine (its
  embedded config's graph, engine and threads), the same PNG encode.
- ``FirstStepProbe`` does that work as the first step of an ensemble of four and hands on the PNG with an empty
  PIXELS and a META; two ``PassProbe`` steps pass them on and ``LastStepProbe`` answers with the PNG: the shipped
  ensemble's four steps with all the work in one of them, so the difference from ``WholeProbe`` is the hops.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image

from lumaflow import contract
from lumaflow.bench.lean_probes import ANSWER_FILE, DONE, NOISE_LEVEL_PARAMETER
from lumaflow.params import StageParams
from lumaflow.runtime.imaging import encode_image
from lumaflow.runtime.stage import open_served_engine
from lumaflow.server.models.base import Outputs, RequestModel, bytes_tensor, input_array, single_bytes

NO_PIXELS = np.zeros((1, 0, 0, 3), dtype=np.uint8)
NO_INFO = bytes_tensor(b"{}")


class ConstantProbe(RequestModel):
    def setup(self, args: dict[str, str]) -> None:
        self.answer = bytes_tensor((self.version_directory / ANSWER_FILE).read_bytes())

    def process(self, request: Any) -> Outputs:
        single_bytes(request, contract.IMAGE.name)  # read, as any model reads its input
        return {contract.ENHANCED.name: self.answer, contract.INFO.name: NO_INFO}


class WholeProbe(RequestModel):
    def setup(self, args: dict[str, str]) -> None:
        params = StageParams.from_model_config(self.config)
        self.engine = open_served_engine(params, self.version_directory)
        level = float(self.config["parameters"][NOISE_LEVEL_PARAMETER]["string_value"])
        self.side = {name: np.full((1, 1), level, np.float32) for name in self.engine.input_names[1:]}

    def enhanced(self, request: Any) -> bytes:
        with Image.open(io.BytesIO(single_bytes(request, contract.IMAGE.name))) as image:
            pixels = np.asarray(image.convert("RGB"))[None]
        out = self.engine.run({self.engine.input_names[0]: pixels, **self.side})[0]
        return encode_image(np.ascontiguousarray(out[0]), fmt="png")[0]

    def process(self, request: Any) -> Outputs:
        return {contract.ENHANCED.name: bytes_tensor(self.enhanced(request)), contract.INFO.name: NO_INFO}


class FirstStepProbe(WholeProbe):
    def process(self, request: Any) -> Outputs:
        return {
            DONE: bytes_tensor(self.enhanced(request)),
            contract.PIXELS.name: NO_PIXELS,
            contract.META.name: NO_INFO,
        }


class PassProbe(RequestModel):
    def process(self, request: Any) -> Outputs:
        return {
            contract.PIXELS.name: input_array(request, contract.PIXELS.name),
            contract.META.name: input_array(request, contract.META.name),
        }


class LastStepProbe(RequestModel):
    def process(self, request: Any) -> Outputs:
        input_array(request, contract.PIXELS.name)
        return {
            contract.ENHANCED.name: input_array(request, DONE),
            contract.INFO.name: input_array(request, contract.META.name),
        }

"""A neural stage inside the python backend: its graph opened through the engine registry, batches run for real.

The engine (ONNX Runtime on the CPU today) is the stage's declared one (``StageParams.engine``); the
checks and the batching are the runtime's (``lumaflow.runtime.stage``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lumaflow.params import StageParams
from lumaflow.runtime.errors import InvalidInput
from lumaflow.runtime.stage import checked_inputs, open_served_engine, run_batch, stage_spec
from lumaflow.server.models.base import (
    LumaflowModel,
    error_response,
    failure_response,
    optional_array,
    outputs_response,
)


class TritonPythonModel(LumaflowModel):
    def setup(self, args: dict[str, str]) -> None:
        params = StageParams.from_model_config(self.config)
        self.spec = stage_spec(self.config, params)
        self.engine = open_served_engine(params, self.version_directory)
        self.spec.check_graph(self.engine)

    def execute(self, requests: Sequence[Any]) -> list[Any]:
        responses: list[Any] = [None] * len(requests)
        batch, positions = [], []
        for index, request in enumerate(requests):
            try:
                names = (self.spec.pixels, *self.spec.side)
                batch.append(checked_inputs(self.spec, {name: optional_array(request, name) for name in names}))
                positions.append(index)
            except InvalidInput as error:
                responses[index] = error_response(str(error))
        for index, result in zip(positions, run_batch(self.spec, self.engine, batch), strict=True):
            if isinstance(result, Exception):
                responses[index] = failure_response(self.model_name, result)
            else:
                responses[index] = outputs_response({self.spec.output: result})
        return responses

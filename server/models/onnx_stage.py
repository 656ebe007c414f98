"""A neural stage served by ONNX Runtime inside the python backend (CPU, no native ORT backend).

Batching is real here, not just in the config: the requests Triton's dynamic batcher hands over
are stacked by shape (decode pads to size buckets, so same-bucket photos share a shape) and each
shape runs as one ONNX Runtime call with batch size = the number of those requests, split only
where the batch would exceed the stage's pixel budget (memory grows with batch x pixels).
"""

from __future__ import annotations

import traceback
from collections import defaultdict
from typing import Any

import numpy as np
import onnxruntime as ort
import triton_python_backend_utils as pb_utils

from lumaflow.ensemble import contract
from lumaflow.server.batching import chunk_by_pixels
from lumaflow.server.imaging import InvalidInput
from lumaflow.server.models.base import RequestModel, error_response, internal_error, outputs_response


class TritonPythonModel(RequestModel):
    def setup(self, args: dict[str, str]) -> None:
        (self.input_spec,) = self.config["input"]
        (self.output_spec,) = self.config["output"]
        self.channels = int(self.input_spec["dims"][-1])
        self.max_batch_pixels = int(self.parameters["max_batch_pixels"])
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(self.parameters.get("intra_op_threads", "1"))
        options.inter_op_num_threads = 1
        # Stages share two cores: an idle stage must not spin on them.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        path = f"{self.model_directory}/{self.parameters['onnx_file']}"
        self.session = ort.InferenceSession(path, sess_options=options, providers=["CPUExecutionProvider"])
        self.onnx_input = self.session.get_inputs()[0].name
        self.onnx_output = self.session.get_outputs()[0].name

    def _pixels(self, request: Any) -> np.ndarray:
        tensor = pb_utils.get_input_tensor_by_name(request, self.input_spec["name"])
        array = tensor.as_numpy() if tensor is not None else None
        if array is None or array.dtype != np.uint8 or array.ndim != 4 or array.shape[-1] != self.channels:
            shape = None if array is None else list(array.shape)
            raise InvalidInput(
                contract.INVALID_IMAGE,
                f"{self.input_spec['name']} must be uint8 [batch, height, width, {self.channels}], got {shape}.",
            )
        return array

    def execute(self, requests: list[Any]) -> list[Any]:
        responses: list[Any] = [None] * len(requests)
        by_shape: dict[tuple[int, ...], list[tuple[int, np.ndarray]]] = defaultdict(list)
        for index, request in enumerate(requests):
            try:
                pixels = self._pixels(request)
            except InvalidInput as error:
                responses[index] = error_response(str(error))
                continue
            by_shape[pixels.shape[1:]].append((index, pixels))
        for group in by_shape.values():
            sizes = [int(np.prod(pixels.shape[:3])) for _, pixels in group]
            for chunk in chunk_by_pixels(sizes, self.max_batch_pixels):
                self._run([group[position] for position in chunk], responses)
        return responses

    def _run(self, group: list[tuple[int, np.ndarray]], responses: list[Any]) -> None:
        """One ONNX Runtime call for same-shape requests; one response each, errors included."""
        batch = np.concatenate([pixels for _, pixels in group]) if len(group) > 1 else group[0][1]
        try:
            result = self.session.run([self.onnx_output], {self.onnx_input: batch})[0]
        except Exception:
            pb_utils.Logger.log_error(f"{self.model_name}: {traceback.format_exc()}")
            for index, _ in group:
                responses[index] = internal_error(self.model_name)
            return
        offset = 0
        for index, pixels in group:
            count = pixels.shape[0]
            responses[index] = outputs_response({self.output_spec["name"]: result[offset : offset + count]})
            offset += count

"""A neural stage served by ONNX Runtime inside the python backend (CPU, no native ORT backend).

Batching is real here, not just in the config: the requests Triton's dynamic batcher hands over
are stacked by shape (decode pads to size buckets, so same-bucket photos share a shape) and each
shape runs as one ONNX Runtime call with batch size = the number of those requests, split only
where the batch would exceed the stage's pixel budget (memory grows with batch x pixels).
"""

from __future__ import annotations

import json
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

Item = tuple[int, dict[str, np.ndarray]]  # (request index, the request's inputs by name)


class TritonPythonModel(RequestModel):
    def setup(self, args: dict[str, str]) -> None:
        # The first input is the pixels; others (e.g. NOISE_LEVEL) are per-image side inputs.
        self.pixel_spec, *self.side_specs = self.config["input"]
        (self.output_spec,) = self.config["output"]
        self.channels = int(self.pixel_spec["dims"][-1])
        # [batch, height, width, C] images, or [batch, crops, height, width, C] crop sets (the quality score).
        self.pixel_rank = len(self.pixel_spec["dims"]) + 1
        self.pixel_layout = "batch, " + ("crops, " if self.pixel_rank == 5 else "") + f"height, width, {self.channels}"
        self.max_batch_pixels = int(self.parameters["max_batch_pixels"])
        # Declared value ranges of side inputs (ensemble Tensor.value_range), e.g. TEMPLATE within the looks.
        self.input_ranges: dict[str, list[float]] = json.loads(self.parameters.get("input_ranges", "{}"))
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(self.parameters.get("intra_op_threads", "1"))
        options.inter_op_num_threads = 1
        # Stages share two cores: an idle stage must not spin on them.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        path = f"{self.model_directory}/{self.parameters['onnx_file']}"
        self.session = ort.InferenceSession(path, sess_options=options, providers=["CPUExecutionProvider"])
        graph_inputs = [graph_input.name for graph_input in self.session.get_inputs()]
        declared = [spec["name"] for spec in self.config["input"]]
        if graph_inputs != declared:
            raise ValueError(f"{path.rsplit('/', 1)[-1]} has inputs {graph_inputs}, the stage declares {declared}")
        self.onnx_output = self.session.get_outputs()[0].name
        # A photo stage hands its arena back after each call: otherwise every stage keeps the peak of
        # its largest batch for good (Real-ESRGAN held 2.4 GB after warmup alone; measured).
        self.run_options = ort.RunOptions()
        if self.parameters.get("shrink_arena") == "1":
            self.run_options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")

    def _inputs(self, request: Any) -> dict[str, np.ndarray]:
        tensor = pb_utils.get_input_tensor_by_name(request, self.pixel_spec["name"])
        pixels = tensor.as_numpy() if tensor is not None else None
        if (
            pixels is None
            or pixels.dtype != np.uint8
            or pixels.ndim != self.pixel_rank
            or pixels.shape[-1] != self.channels
        ):
            shape = None if pixels is None else list(pixels.shape)
            raise InvalidInput(
                contract.INVALID_IMAGE, f"{self.pixel_spec['name']} must be uint8 [{self.pixel_layout}], got {shape}."
            )
        if min(pixels.shape[1:-1]) < 1:  # Triton passes a 0-pixel frame on to the camera stages
            raise InvalidInput(
                contract.INVALID_IMAGE, f"The frame is empty ({pixels.shape[-2]}x{pixels.shape[-3]} pixels)."
            )
        inputs = {self.pixel_spec["name"]: pixels}
        for spec in self.side_specs:
            side = pb_utils.get_input_tensor_by_name(request, spec["name"])
            if side is None or side.as_numpy().shape[0] != pixels.shape[0]:
                raise InvalidInput(contract.INVALID_IMAGE, f"{spec['name']} must have one value per image.")
            values = side.as_numpy()
            if spec["name"] in self.input_ranges:
                low, high = self.input_ranges[spec["name"]]
                outside = values[~((values >= low) & (values <= high))]  # NaN is outside too
                if outside.size:
                    raise InvalidInput(
                        contract.INVALID_OPTIONS,
                        f"{spec['name']} must lie within {low:g} to {high:g}, got {outside.flat[0]:g}.",
                    )
            inputs[spec["name"]] = values
        return inputs

    def execute(self, requests: list[Any]) -> list[Any]:
        responses: list[Any] = [None] * len(requests)
        by_shape: dict[tuple[int, ...], list[Item]] = defaultdict(list)
        for index, request in enumerate(requests):
            try:
                inputs = self._inputs(request)
            except InvalidInput as error:
                responses[index] = error_response(str(error))
                continue
            by_shape[inputs[self.pixel_spec["name"]].shape[1:]].append((index, inputs))
        for group in by_shape.values():
            sizes = [int(np.prod(inputs[self.pixel_spec["name"]].shape[:-1])) for _, inputs in group]
            for chunk in chunk_by_pixels(sizes, self.max_batch_pixels):
                self._run([group[position] for position in chunk], responses)
        return responses

    def _run(self, group: list[Item], responses: list[Any]) -> None:
        """One ONNX Runtime call for same-shape requests; one response each, errors included."""
        feed = {
            name: np.concatenate([inputs[name] for _, inputs in group]) if len(group) > 1 else group[0][1][name]
            for name in group[0][1]
        }
        try:
            result = self.session.run([self.onnx_output], feed, self.run_options)[0]
        except Exception:
            pb_utils.Logger.log_error(f"{self.model_name}: {traceback.format_exc()}")
            for index, _ in group:
                responses[index] = internal_error(self.model_name)
            return
        offset = 0
        for index, inputs in group:
            count = inputs[self.pixel_spec["name"]].shape[0]
            responses[index] = outputs_response({self.output_spec["name"]: result[offset : offset + count]})
            offset += count

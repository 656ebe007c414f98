"""The lean benchmark's probe models (issue 26) do the work they stand for: the one-model probe and the four-step
chain answer the in-process pipeline's own PNG, and the constant probe the answer it was given."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from PIL import Image

from lumaflow.bench.baselines import copy_repository, pipeline_models
from lumaflow.bench.lean import NOISE_LEVEL, InProcess, work
from lumaflow.bench.lean_probes import CHAIN, CONSTANT, WHOLE, write_probes
from lumaflow.client.protocol import photo_inputs
from lumaflow.server.process import running_server

pytestmark = pytest.mark.served


def _pixels(png: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG"
        return np.asarray(image.convert("RGB"), dtype=np.int16)


@pytest.mark.parametrize("pipeline", ["upscale_x2_fast", "denoise"])
def test_the_probes_answer_what_the_in_process_pipeline_makes(
    pipeline: str, model_repository: Path, tmp_path: Path
) -> None:
    task = work(pipeline, 64)
    local = InProcess(task.stage, model_repository)
    expected = local(task.jpegs[:2])
    served = copy_repository(model_repository, tmp_path, pipeline_models(model_repository, pipeline), None)
    assert write_probes(served, model_repository, task.stage, b"constant", NOISE_LEVEL) == (CONSTANT, WHOLE, CHAIN)
    with running_server(served) as server, grpcclient.InferenceServerClient(server.endpoints.grpc_url) as client:
        for jpeg, want in zip(task.jpegs[:2], expected, strict=True):
            inputs = photo_inputs(jpeg, task.options)
            answers = {model: client.infer(model, inputs).as_numpy("ENHANCED")[0][0] for model in (WHOLE, CHAIN)}
            for model, got in answers.items():
                assert np.abs(_pixels(got) - _pixels(want)).max() <= 1, model  # the same engine and encoder
            constant = client.infer(CONSTANT, inputs)
            assert constant.as_numpy("ENHANCED")[0][0] == b"constant"
            assert json.loads(constant.as_numpy("INFO")[0][0]) == {}

"""The lean-path benchmark's in-process side (issue 26): the same work as the pipeline, without a server."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lumaflow.bench.lean import (
    NOISE_LEVEL,
    InProcess,
    in_process_window,
    ordinary_repository,
    server_side_table,
    work,
)
from lumaflow.bench.lean_python_work import measure, table
from lumaflow.bench.lean_starts import in_process_once
from lumaflow.bench.lean_starts import table as starts_table

pytestmark = pytest.mark.build


def test_the_in_process_pipeline_decodes_runs_the_stage_and_encodes_png(model_repository: Path) -> None:
    task = work("upscale_x2_fast", 64)
    assert task.stage.name == "espcn_x2" and task.options == {"format": "png", "quality_check": False}
    local = InProcess(task.stage, model_repository)
    outputs = local(task.jpegs[:2])  # a batch of two, as Lumaflow's batcher may form
    for encoded, jpeg in zip(outputs, task.jpegs, strict=False):
        with Image.open(io.BytesIO(encoded)) as result, Image.open(io.BytesIO(jpeg)) as source:
            assert result.format == "PNG" and result.size == (2 * source.width, 2 * source.height)
    assert local.engine_s > 0
    done, seconds = in_process_window(local, task.jpegs, 3, 0.2)
    assert done % 3 == 0 and done >= 3 and seconds >= 0.2


def test_denoise_is_told_its_level_and_two_network_pipelines_are_refused() -> None:
    assert work("denoise", 64).options["noise_level"] == NOISE_LEVEL
    with pytest.raises(ValueError, match="one network"):
        work("upscale_x8", 64)
    assert all(isinstance(jpeg, bytes) and len(jpeg) > 500 for jpeg in work("denoise", 64).jpegs)
    assert np.asarray(Image.open(io.BytesIO(work("denoise", 64).jpegs[0]))).shape == (64, 64, 3)


def test_the_python_work_of_decode_and_encode_is_timed_beside_pillow(model_repository: Path) -> None:
    row = measure("upscale_x2_fast", 64, rounds=1, repeats=1, repository=model_repository)
    assert row["output"] == [128, 128]
    assert set(row["ms"]) == {"pillow_decode", "decode_request", "encode_image", "encode_result"}
    assert all(ms > 0 for ms in row["ms"].values())
    assert row["encode_extra_ms"] == round(row["ms"]["encode_result"] - row["ms"]["encode_image"], 3)
    assert "| upscale_x2_fast |" in table([row])


@pytest.mark.parametrize(("pipeline", "stage"), [("upscale_x2_fast", "espcn_x2"), ("denoise", "ffdnet")])
def test_the_ordinary_path_is_the_same_models_with_the_one_tile_path_off(
    model_repository: Path, tmp_path: Path, pipeline: str, stage: str
) -> None:
    copied = ordinary_repository(model_repository, tmp_path / "ordinary", pipeline)
    assert copied is not None
    decode = (copied / f"{pipeline}_decode" / "config.pbtxt").read_text()
    shipped = (model_repository / f"{pipeline}_decode" / "config.pbtxt").read_text()
    assert "ENCODED" in shipped and "ENCODED" not in decode  # the file decode would hand on
    assert "photo_compute" in shipped and "photo_compute" not in decode  # it asks its networks by BLS again
    assert "ENCODED" not in (copied / pipeline / "config.pbtxt").read_text()
    assert (copied / stage / "config.pbtxt").read_text() == (model_repository / stage / "config.pbtxt").read_text()
    assert ordinary_repository(model_repository, tmp_path / "dejpeg", "dejpeg") is None  # it has no one-tile path


def test_the_server_side_table_sets_each_servers_time_a_photo_side_by_side() -> None:
    rows = [{"model": "denoise", "infer_us": 150_000}, {"model": "ffdnet", "infer_us": 140_000}]
    result = {
        "pipeline": "denoise",
        "clients": 1,
        "stages": rows,
        "ordinary_stages": [{**rows[0], "infer_us": 160_000}],
    }
    assert server_side_table([result]).splitlines()[-1] == "| denoise | 1 | 150.0 | 160.0 | 1.067 |"


def test_the_starts_benchmark_times_the_decodes_engine_call_in_process() -> None:
    assert in_process_once(2, 64) > 0
    report = {"served": [{"network_ms": 18.5, "decode_cpu_ms_per_photo": 44.0}], "in_process_ms": [17.9]}
    assert starts_table(report).splitlines()[-1] == "| 1 | 18.5 | 44.0 | 17.9 |"

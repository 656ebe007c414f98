"""OpenVINO as the second engine: the same graphs, the same outputs within a level, its own settings, and the
per-stage choice that `lumaflow tune --engines` writes into tuning.json and the stage declarations pick up."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from lumaflow.bench.engines import serving_size, stage_feed
from lumaflow.bench.tune import choose_engines, choose_precisions
from lumaflow.build.photos import eval_photos
from lumaflow.ensemble.stages import STAGES
from lumaflow.ensemble.tuning import apply_tuning, tuned
from lumaflow.runtime.engines import ENGINES, EnginePolicy, open_engine


@pytest.fixture()
def graph(model_repository: Path) -> Callable[[str], Path]:
    """The served ONNX graph of a stage (the session fixture builds missing graphs from committed weights)."""
    return lambda stage: model_repository / stage / "1" / "model.onnx"


@pytest.mark.build
@pytest.mark.parametrize("stage", ["espcn_x2", "deblock", "ffdnet", "span_x2", "gated_inpainter", "looks"])
def test_openvino_runs_the_served_graph_within_one_level_of_onnx_runtime(
    stage: str, graph: Callable[[str], Path]
) -> None:
    declared = STAGES[stage]
    feed = stage_feed(declared, next(iter(eval_photos().values())))
    reference = open_engine("onnxruntime", graph(stage), EnginePolicy(threads=2))
    engine = open_engine("openvino", graph(stage), EnginePolicy(threads=2))
    assert engine.name == "openvino" and engine.version
    assert engine.input_names == reference.input_names and engine.output_names == reference.output_names
    for got, want in zip(engine.run(feed), reference.run(feed), strict=True):
        assert got.shape == want.shape and got.dtype == want.dtype
        assert int(np.abs(got.astype(np.int16) - want.astype(np.int16)).max()) <= 1


@pytest.mark.build
def test_openvino_runs_float32_on_the_policys_threads_and_returns_copies(graph: Callable[[str], Path]) -> None:
    engine = open_engine("openvino", graph("espcn_x2"), EnginePolicy(threads=2))
    compiled = engine.compiled  # type: ignore[attr-defined]
    assert "float32" in str(compiled.get_property("INFERENCE_PRECISION_HINT"))
    assert int(compiled.get_property("INFERENCE_NUM_THREADS")) == 2
    rng = np.random.default_rng(0)
    first_in, second_in = (rng.integers(0, 256, (1, 32, 32, 3), dtype=np.uint8) for _ in range(2))
    first = engine.run({"PIXELS": first_in})[0]
    kept = first.copy()
    engine.run({"PIXELS": second_in})
    assert np.array_equal(first, kept)  # the next call did not write into what the last one returned
    with pytest.raises(KeyError, match="NOPE"):
        engine.run({"PIXELS": first_in}, outputs=["NOPE"])


@pytest.mark.unit
def test_openvino_is_a_registered_engine_and_a_stage_can_be_tuned_onto_it() -> None:
    assert "openvino" in ENGINES
    moved = tuned(STAGES["espcn_x2"], {"engine": "openvino"})
    assert moved.network is not None and moved.network.engine == "openvino"
    assert STAGES["espcn_x2"].network is not None and moved.network.weights == STAGES["espcn_x2"].network.weights


@pytest.mark.unit
def test_tune_engines_takes_openvino_only_where_clearly_faster_and_within_a_level(tmp_path: Path) -> None:
    rows = [
        {"stage": "espcn_x2", "shape": [1, 256, 256, 3], "openvino_vs_onnxruntime": 1.6, "max_abs_diff": 1.0},
        {"stage": "deblock", "shape": [1, 256, 256, 3], "openvino_vs_onnxruntime": 0.8, "max_abs_diff": 1.0},
        {"stage": "ffdnet", "shape": [1, 256, 256, 3], "openvino_vs_onnxruntime": 1.05, "max_abs_diff": 0.0},
        {"stage": "span_x2", "shape": [1, 256, 256, 3], "openvino_vs_onnxruntime": 2.0, "max_abs_diff": 3.0},
    ]
    report = tmp_path / "engines.json"
    report.write_text(json.dumps({"date": "2026-12-04", "machine": {"summary": "test"}, "stages": rows}))
    tuning = tmp_path / "tuning.json"
    tuning.write_text(json.dumps({"espcn_x2": {"instances": 2}}))
    chosen = choose_engines(report, tuning)
    slower = {"deblock": "onnxruntime", "ffdnet": "onnxruntime", "span_x2": "onnxruntime"}
    assert chosen == {"espcn_x2": "openvino", **slower}
    written = json.loads(tuning.read_text())
    assert written["espcn_x2"]["instances"] == 2  # the batching tune's fields stay
    assert written["espcn_x2"]["engine_measured"]["openvino_vs_onnxruntime"] == 1.6
    stages = apply_tuning({name: STAGES[name] for name in chosen}, tuning)
    assert {name: stage.network.engine for name, stage in stages.items() if stage.network} == chosen


@pytest.mark.unit
def test_tune_engines_over_several_runs_takes_each_stages_median_ratio_and_largest_difference(tmp_path: Path) -> None:
    """One busy run must not flip a stage: ffdnet at 1.01 in one run of three stays on OpenVINO (median 1.15), and
    looks, over 1.10 in two runs but more than a level apart in one, stays on ONNX Runtime."""

    def report(name: str, ffdnet: float, looks: tuple[float, float]) -> Path:
        rows = [
            {"stage": "ffdnet", "shape": [1, 256, 256, 3], "openvino_vs_onnxruntime": ffdnet, "max_abs_diff": 1.0},
            {
                "stage": "looks",
                "shape": [1, 240, 320, 3],
                "openvino_vs_onnxruntime": looks[0],
                "max_abs_diff": looks[1],
            },
        ]
        path = tmp_path / name
        path.write_text(json.dumps({"date": name[:10], "machine": {"summary": "test"}, "stages": rows}))
        return path

    reports = [
        report("2026-12-04.json", 1.15, (1.31, 1.0)),
        report("2026-12-05.json", 1.01, (0.97, 1.0)),
        report("2026-12-06.json", 1.20, (1.25, 2.0)),
    ]
    tuning = tmp_path / "tuning.json"
    assert choose_engines(reports, tuning) == {"ffdnet": "openvino", "looks": "onnxruntime"}
    written = json.loads(tuning.read_text())["ffdnet"]["engine_measured"]
    assert written["openvino_vs_onnxruntime"] == 1.15 and written["runs"] == [1.15, 1.01, 1.2]
    assert written["report"] == "2026-12-04.json, 2026-12-05.json, 2026-12-06.json"
    assert choose_engines(reports[1], tuning) == {"ffdnet": "onnxruntime", "looks": "onnxruntime"}  # that run alone
    # the 2026-12-04 report still holds camera_sr_x2_int8's QDQ row; the stage is now an OpenVINO IR, whose engine
    # is not a choice (ONNX Runtime cannot read it)
    stale = tmp_path / "stale.json"
    row = {"stage": "camera_sr_x2_int8", "shape": [1, 240, 320, 3], "openvino_vs_onnxruntime": 1.35, "max_abs_diff": 2}
    stale.write_text(json.dumps({"date": "2026-12-04", "machine": {"summary": "test"}, "stages": [row]}))
    assert choose_engines([stale, reports[0]], tuning) == {"ffdnet": "openvino", "looks": "openvino"}
    assert "camera_sr_x2_int8" not in json.loads(tuning.read_text())


@pytest.mark.unit
def test_engine_benchmark_inputs_have_each_stages_serving_shape() -> None:
    photo = np.zeros((100, 120, 3), np.uint8)
    assert stage_feed(STAGES["espcn_x2"], photo)["PIXELS"].shape == (1, *serving_size(STAGES["espcn_x2"]), 3)
    quality = stage_feed(STAGES["quality"], photo)
    assert quality["CROPS"].shape == (1, 25, 64, 64, 3)
    inpaint = stage_feed(STAGES["gated_inpainter"], photo)
    assert inpaint["HOLE"].shape == (*inpaint["PIXELS"].shape[:-1], 1) and 0 < inpaint["HOLE"].mean() < 255
    looks = stage_feed(STAGES["looks"], photo)
    assert looks["TEMPLATE"].dtype == np.int32 and looks["STRENGTH"][0, 0] == 1.0


NNCF_CHECK = """
import json, sys
from pathlib import Path
import numpy as np
import openvino as ov
from lumaflow.build.quantize import calibration_frames
from lumaflow.build.quantize_openvino import bicubic_skip_names, quantize_openvino_int8
from lumaflow.runtime.engines import EnginePolicy, open_engine
camera, restore, out = (Path(arg) for arg in sys.argv[1:4])
skips = bicubic_skip_names(ov.Core().read_model(str(camera)))
none_at_x1 = bicubic_skip_names(ov.Core().read_model(str(restore)))
record = quantize_openvino_int8(camera, out, calibration_frames(count=4))
frame = calibration_frames(count=5)[-1]
want = open_engine("openvino", camera, EnginePolicy(threads=2)).run({"PIXELS": frame})[0].astype(np.float64)
got = open_engine("openvino", out, EnginePolicy(threads=2)).run({"PIXELS": frame})[0].astype(np.float64)
psnr = float(10 * np.log10(255.0**2 / max(float(np.mean((got - want) ** 2)), 1e-12)))
print(json.dumps({"skips": skips, "none_at_x1": none_at_x1, "record": record, "psnr": psnr}))
"""


@pytest.mark.build
def test_nncf_int8_keeps_the_bicubic_skip_in_float_and_runs_on_openvino(
    tmp_path: Path, graph: Callable[[str], Path]
) -> None:
    """The camera network quantised by NNCF: its bicubic skip found by its kernel and left out, the IR opens in
    the OpenVINO engine, and its output stays close to the fp32 graph's (the skip carries most of the picture).
    In a process of its own: NNCF and OpenVINO's quantisation runtime stay out of the test process."""
    out = tmp_path / "int8.xml"
    command = [sys.executable, "-c", NNCF_CHECK, str(graph("camera_sr_x2")), str(graph("camera_restore_x1")), str(out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(result["skips"]) == 1 and result["none_at_x1"] == []  # one skip at x2, none at x1
    assert result["record"]["kept_float"] == result["skips"] and out.with_suffix(".bin").is_file()
    assert result["psnr"] > 45.0  # 51 dB measured; 38 dB with the skip quantised too


@pytest.mark.build
def test_engine_table_times_nncf_int8_beside_both_engines_and_judges_it_on_validation_photos(
    tmp_path: Path, model_repository: Path
) -> None:
    """``python -m lumaflow.bench.engines`` on two stages: each row has OpenVINO's int8 graph timed with the fp32
    engines, its distance from fp32 on validation crops, an upscaler's Y-PSNR delta against the originals, a
    denoiser's PSNR delta after denoising, and
    GFLOP/s set against the GEMM ceiling measured in the same run (a figure, not a speed asserted)."""
    out = tmp_path / "engines.json"
    command = [sys.executable, "-m", "lumaflow.bench.engines", "--seconds", "0.3", "--stages", "espcn_x2,refine,ffdnet"]
    done = subprocess.run([*command, "--out", str(out)], capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["gemm_ceiling_gflop_per_s"] > 0
    rows = {row["stage"]: row for row in report["stages"]}
    assert rows["espcn_x2"]["gflop_per_call"] == pytest.approx(4.09, abs=0.01)  # 8.1 k MACs per 256 px input pixel
    for row in rows.values():
        assert set(row["calls_per_s"]) == {"onnxruntime", "openvino", "openvino_int8"}
        assert row["int8"]["calibration_frames"] == 16
        assert row["int8"]["psnr_vs_fp32_db"] > 38  # 51.6 dB measured for espcn_x2, 39.5 for ffdnet
    assert len(rows["espcn_x2"]["int8"]["kept_float"]) == 1 and rows["refine"]["int8"]["kept_float"] == []  # skip
    assert "delta_db" not in rows["refine"]["int8"]  # a x1 stage: its distance from fp32 only
    assert -0.3 < rows["espcn_x2"]["int8"]["delta_db"] < 0.1  # -0.07 dB measured
    denoised = rows["ffdnet"]["int8"]  # a denoiser: its PSNR after denoising, per noise level, worst as delta_db
    assert list(denoised["delta_db_by_level"]) == ["sigma15", "sigma25", "sigma50"]
    assert denoised["delta_db"] == pytest.approx(-1.45, abs=0.3)  # measured 2026-12-05; fp32 stays served
    assert "| espcn_x2 | 1x256x256 | 4.09 |" in done.stdout


@pytest.mark.unit
def test_tune_int8_serves_int8_only_where_it_loses_at_most_a_tenth_of_a_db_and_runs_much_faster(tmp_path: Path) -> None:
    """Catches: int8 chosen for a row that loses more than 0.1 dB on validation, gains too little speed, has no task
    quality measured (a x1 restorer), strays further from fp32 than the build accepts, or belongs to a camera stage
    (the camera's int8 is its own pipeline)."""

    def row(
        stage: str, delta: float | None, rates: tuple[float, float, float], psnr: float = 50.0
    ) -> dict[str, object]:
        engines = ("onnxruntime", "openvino", "openvino_int8")
        return {
            "stage": stage,
            "shape": [1, 256, 256, 3],
            "calls_per_s": dict(zip(engines, rates, strict=True)),
            "int8": {"delta_db": delta, "psnr_vs_fp32_db": psnr},
        }

    rows = [
        row("espcn_x2", -0.06, (30.0, 40.0, 80.0)),
        row("sr_x4", -0.12, (7.0, 9.0, 20.0)),
        row("srmd_x4", 0.0, (10.0, 10.0, 14.0)),
        row("deblock", None, (2.0, 3.0, 7.0)),
        row("camera_sr_x2", -0.07, (4.0, 4.6, 7.4)),
        row("realesrgan_x4", -0.04, (6.0, 7.0, 28.0), psnr=35.0),  # a GAN: far from fp32, its PSNR unmoved
    ]
    report = tmp_path / "engines.json"
    report.write_text(json.dumps({"date": "2026-12-05", "machine": {"summary": "test"}, "stages": rows}))
    tuning = tmp_path / "tuning.json"
    tuning.write_text(json.dumps({"espcn_x2": {"instances": 2, "engine": "openvino"}}))
    chosen = choose_precisions(report, tuning)
    assert chosen == {
        "espcn_x2": "int8",
        "sr_x4": "fp32",
        "srmd_x4": "fp32",
        "deblock": "fp32",
        "realesrgan_x4": "fp32",
    }
    written = json.loads(tuning.read_text())
    assert written["espcn_x2"]["instances"] == 2 and written["espcn_x2"]["engine"] == "openvino"
    assert written["espcn_x2"]["precision_measured"]["int8_vs_fastest_fp32"] == 2.0
    stages = apply_tuning({name: STAGES[name] for name in chosen}, tuning)
    assert [name for name, stage in stages.items() if stage.network and stage.network.embedded_int8] == ["espcn_x2"]

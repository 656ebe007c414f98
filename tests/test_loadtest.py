"""The load commands at tiny scale against the suite's real tritonserver: each writes its report and plots.

Speed is never asserted here (benchmarks report it); what is checked is that the real tools ran
(perf_analyzer's CSV parsed, real requests counted), that every request is accounted for, and
that the report holds what the issue asks: percentiles, the per-stage breakdown, the plots.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import os
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
from tritonclient.utils import InferenceServerException

from lumaflow.bench import baselines, tune
from lumaflow.bench.cli import add_bench, cmd_baselines, cmd_tune
from lumaflow.cli import main
from lumaflow.ensemble.render import render, stage_config
from lumaflow.ensemble.stages import STAGES
from lumaflow.ensemble.tuning import apply_tuning
from lumaflow.loadtest import cameras, inflight, perf, photos
from lumaflow.loadtest.cli import add_loadtest
from lumaflow.loadtest.memory import child_pids
from lumaflow.loadtest.report import LoadReport, percentile_ms
from lumaflow.server.process import TritonServer

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _check_written(out: Path) -> dict:
    for name in ("throughput.png", "latency.png"):
        assert (out / name).read_bytes()[:8] == PNG_MAGIC, name
    report = json.loads((out / "report.json").read_text())
    markdown = (out / "report.md").read_text()
    assert report["machine"]["cores"] >= 1
    for point in report["points"]:
        assert f"| {point['level']:g} |" in markdown
    return report


@pytest.mark.served
def test_perf_analyzer_drives_a_photo_pipeline_with_real_photos(server: TritonServer, tmp_path: Path) -> None:
    report = perf.run(
        server.endpoints.grpc_url,
        "upscale_x2_fast",
        [1, 2],
        tmp_path,
        side=96,
        measurement_ms=800,
        stability_percentage=1000,  # a 2-core CI machine is never "stable" at 10 %; the figures are not judged
        max_trials=3,
    )
    written = _check_written(tmp_path)
    assert [point["level"] for point in written["points"]] == [1, 2], report.notes
    for point in written["points"]:
        assert point["throughput_per_s"] > 0
        assert 0 < point["p50_ms"] <= point["p90_ms"] <= point["p99_ms"]
    ran = {stage["model"]: stage for stage in written["stages"]}
    # The photos really went through the pipeline: its decode and its SR stage ran them.
    assert ran["upscale_x2_fast_decode"]["inferences"] >= 1
    assert ran["espcn_x2"]["inferences"] >= ran["upscale_x2_fast_decode"]["inferences"]


@pytest.mark.served
def test_perf_analyzer_sends_raw_frames_to_a_camera_pipeline(server: TritonServer, tmp_path: Path) -> None:
    report = perf.run(
        server.endpoints.grpc_url,
        "camera_x2",
        [1],
        tmp_path,
        frame=(64, 48),
        measurement_ms=1000,
        stability_percentage=1000,
        max_trials=6,  # the first frames of a new size can stall a window (ONNX Runtime plans the shape)
    )
    assert len(report.points) == 1, report.notes
    assert {stage.model for stage in report.stages} >= {"camera_x2", "camera_sr_x2"}


@pytest.mark.unit
def test_perf_input_data_is_the_serialised_string_tensor() -> None:
    data = perf.input_data(["IMAGE", "OPTIONS"], perf.default_photos(32)[:1], (8, 8), '{"format": "png"}')
    raw = base64.b64decode(data["data"][0]["OPTIONS"]["b64"])
    (length,) = struct.unpack("<I", raw[:4])
    assert raw[4:] == b'{"format": "png"}' and length == len(raw) - 4
    image = base64.b64decode(data["data"][0]["IMAGE"]["b64"])
    assert image[4:6] == b"\xff\xd8"  # a JPEG after the length
    frames = perf.input_data(["FRAME"], perf.default_photos(32)[:1], (8, 6), "{}")
    assert frames["data"][0]["FRAME"]["shape"] == [6, 8, 3]
    assert len(base64.b64decode(frames["data"][0]["FRAME"]["b64"])) == 6 * 8 * 3


@pytest.mark.served
def test_open_loop_counts_every_request(server: TritonServer, tmp_path: Path) -> None:
    report = photos.run(server.endpoints.grpc_url, "upscale_x2_fast", tmp_path, rates=[4.0], seconds=2.0, sides=[96])
    written = _check_written(tmp_path)
    (point,) = report.points
    assert point.sent == point.extra["offered"] >= 1
    assert point.succeeded + sum(point.failed.values()) == point.sent
    assert point.succeeded == point.sent, point.failed
    assert written["settings"]["mode"].startswith("open loop")
    assert any(stage["model"] == "espcn_x2" for stage in written["stages"])


@pytest.mark.served
def test_closed_loop_through_the_cli(server: TritonServer, tmp_path: Path) -> None:
    code = main(
        [
            "loadtest",
            "photos",
            "--url",
            server.endpoints.grpc_url,
            "--pipeline",
            "upscale_x2_fast",
            "--clients",
            "1,2",
            "--seconds",
            "1.5",
            "--sides",
            "96",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    written = _check_written(tmp_path)
    assert [point["level"] for point in written["points"]] == [1, 2]
    assert all(point["succeeded"] >= 1 and not point["failed"] for point in written["points"])


@pytest.mark.served
def test_failures_are_counted_by_reason(server: TritonServer, tmp_path: Path) -> None:
    not_an_output_format = '{"format": "tiff"}'  # every request is answered INVALID_ARGUMENT
    url = server.endpoints.grpc_url
    report = photos.run(
        url, "upscale_x2_fast", tmp_path, clients=[1], seconds=1.0, sides=[96], options=not_an_output_format
    )
    (point,) = report.points
    assert point.succeeded == 0 and point.sent >= 1
    assert point.failed == {"invalid_options": point.sent}


@pytest.mark.served
def test_camera_load_finds_how_many_cameras_hold(server: TritonServer, tmp_path: Path) -> None:
    load = cameras.CameraLoad(fps=5.0, seconds=1.6, max_streams=2, size=(64, 48), budget_ms=2000.0)
    report = cameras.run(server.endpoints.grpc_url, "camera_x2", tmp_path, load)
    written = _check_written(tmp_path)
    held = [point["extra"]["held"] for point in written["points"]]
    assert held and all(held[:-1])  # it stops at the first level that does not hold
    largest = written["settings"]["largest number of cameras held"]
    assert largest == sum(held)
    for point in report.points:
        assert point.sent == point.level * 8  # 1.6 s at 5 fps per camera
        assert point.succeeded + sum(point.failed.values()) <= point.sent


@pytest.mark.served
def test_camera_load_starts_at_two_cameras_and_reports_the_slowest_answer(server: TritonServer, tmp_path: Path) -> None:
    load = cameras.CameraLoad(fps=5.0, seconds=1.0, max_streams=2, size=(64, 48), budget_ms=2000.0, min_streams=2)
    report = cameras.run(server.endpoints.grpc_url, "camera_x2", tmp_path, load)
    (point,) = report.points
    assert point.level == 2 and point.sent == 10
    assert point.p99_ms <= point.extra["slowest_answer_ms"] + 0.1 < 2000.0  # the same clock, rounded to 0.1 ms
    with pytest.raises(ValueError, match="--min-streams"):
        cameras.run(server.endpoints.grpc_url, "camera_x2", tmp_path, cameras.CameraLoad(min_streams=3, max_streams=2))


@pytest.mark.served
def test_inflight_keeps_frames_on_the_wire_and_counts_every_answer(server: TritonServer, tmp_path: Path) -> None:
    load = inflight.InFlightLoad(in_flight=2, seconds=1.0, windows=2, size=(64, 48), stall_ms=0.0)
    report = inflight.run(server.endpoints.grpc_url, "camera_x2", tmp_path, load)
    written = _check_written(tmp_path)
    assert [point["level"] for point in written["points"]] == [1, 2]
    for point in report.points:
        assert point.failed == {} and point.sent == point.succeeded >= 2
        assert point.throughput_per_s == pytest.approx(point.succeeded / point.seconds, rel=1e-3)
        assert point.p50_ms <= point.p99_ms <= point.extra["slowest_ms"]
        assert point.extra["stalls"] == point.succeeded  # every answer is slower than 0 ms
    assert any(stage.model == "camera_sr_x2" and stage.inferences >= 4 for stage in report.stages)
    with pytest.raises(ValueError, match="--in-flight"):
        inflight.run(server.endpoints.grpc_url, "camera_x2", tmp_path, inflight.InFlightLoad(in_flight=0))


@pytest.mark.unit
def test_failure_reason_prefers_the_lumaflow_code() -> None:
    error = InferenceServerException("[image_too_large] 120 megapixels", status="StatusCode.INVALID_ARGUMENT")
    assert photos.failure_reason(error) == "image_too_large"
    assert photos.failure_reason(InferenceServerException("x", status="StatusCode.UNAVAILABLE")) == "unavailable"


@pytest.mark.unit
def test_percentiles_and_an_empty_report() -> None:
    assert percentile_ms([0.001 * i for i in range(1, 101)], 99) == pytest.approx(99.0)
    assert percentile_ms([0.5], 50) == 500.0
    assert math.isnan(percentile_ms([], 50))
    assert "| concurrency |" in LoadReport("c", "p", "concurrency", "requests").markdown()


@pytest.mark.served
def test_baselines_compare_the_direct_engine_unbatched_and_shipped(model_repository: Path, tmp_path: Path) -> None:
    report = baselines.run(model_repository, "camera_x2", tmp_path, clients=2, seconds=1.0, frame=(64, 48))
    names = [configuration.name for configuration in report.configurations]
    network = STAGES["camera_sr_x2"].network
    assert network is not None  # the direct rows run the engine the stage is served on
    assert names[0] == f"direct {baselines.ENGINE_NAMES[network.engine]}, batch 1"
    assert names[-1] == "Lumaflow as shipped (dynamic batching)"
    assert "Triton, dynamic batching off" in names
    by_name = {configuration.name: configuration for configuration in report.configurations}
    unbatched = by_name["Triton, dynamic batching off"]
    assert unbatched.batch == 1.0  # the re-rendered stage really ran one request per execution
    for configuration in report.configurations:
        assert configuration.items > 0 and not configuration.failed, configuration
        assert configuration.seconds >= 1.0 and configuration.process_cpu_s > 0, configuration
    # The server's CPU is its own and its stubs': the network ran there, not in this process.
    assert unbatched.server_cpu_s > 0.1 and by_name[names[0]].server_cpu_s == 0
    assert {stage.model for stage in unbatched.stages} >= {"camera_x2", "camera_sr_x2"}
    written = json.loads((tmp_path / "report.json").read_text())
    assert written["network_stage"] == "camera_sr_x2"
    assert (tmp_path / "throughput.png").read_bytes()[:8] == PNG_MAGIC


@pytest.mark.build
def test_baselines_time_a_tiled_network_on_the_windows_its_tiler_sends(model_repository: Path) -> None:
    models = baselines.pipeline_models(model_repository, "upscale_x2")
    crop = np.arange(128 * 128 * 3, dtype=np.uint8).reshape(128, 128, 3)
    windows, context = baselines.tile_windows(model_repository, models, [crop])
    assert context == 24 and [w.shape for w in windows] == [(176, 176, 3)]  # SPAN sees 24 px around a tile
    assert np.array_equal(windows[0][context:-context, context:-context], crop)  # the photo, with context around
    frames, none = baselines.tile_windows(
        model_repository, baselines.pipeline_models(model_repository, "camera_x2"), [crop]
    )
    assert none == 0 and frames[0] is crop


@pytest.mark.build
def test_a_routed_pipeline_is_refused_by_the_baselines(model_repository: Path) -> None:
    with pytest.raises(ValueError, match="routes between stages"):
        baselines.pipeline_models(model_repository, "photo_enhance")


def _bench_parser() -> argparse.ArgumentParser:
    """``lumaflow``'s loadtest and tune commands as lumaflow.cli wires them."""
    top = argparse.ArgumentParser(prog="lumaflow")
    commands = top.add_subparsers(dest="command", required=True)
    add_bench(add_loadtest(commands), commands)
    return top


@pytest.mark.unit
def test_bench_commands_join_loadtest_and_the_top_level() -> None:
    parse = _bench_parser().parse_args
    baselines_args = parse(["loadtest", "baselines", "--out", "x", "--frame", "64x48", "--clients", "2"])
    assert baselines_args.handler is cmd_baselines and baselines_args.frame == (64, 48) and baselines_args.clients == 2
    assert baselines_args.pipeline == "upscale_x2_fast" and baselines_args.seconds == 20.0
    tune_args = parse(["tune", "--batch-sizes", "8,16", "--delays-us", "0,500", "--instances", "1,2"])
    assert tune_args.handler is cmd_tune and tune_args.batch_sizes == [8, 16] and tune_args.delays_us == [0, 500]
    assert tune_args.instances == [1, 2] and tune_args.budget_ms == 1000.0 and tune_args.frame == (320, 240)
    assert parse(["loadtest", "photos", "--clients", "1,2", "--out", "x"]).clients == [1, 2]  # the kinds stay
    with pytest.raises(SystemExit):
        parse(["tune", "--batch-sizes", "0"])


@pytest.mark.build
def test_baselines_command_refuses_a_routed_pipeline_in_one_line(
    model_repository: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repository, out = str(model_repository), str(tmp_path)
    args = _bench_parser().parse_args(
        ["loadtest", "baselines", "--pipeline", "photo_enhance", "--model-repository", repository, "--out", out]
    )
    assert args.handler(args) == 1
    assert "lumaflow loadtest baselines: error: photo_enhance routes between stages" in capsys.readouterr().out
    assert not (tmp_path / "report.json").exists()


@pytest.mark.unit
def test_memory_sampling_finds_a_process_children() -> None:
    child = subprocess.Popen(["sleep", "30"])
    try:
        assert child.pid in child_pids(os.getpid())
        assert child_pids(child.pid) == []
    finally:
        child.kill()
        child.wait()


@pytest.mark.served
def test_tune_measures_candidates_and_writes_the_best(model_repository: Path, tmp_path: Path) -> None:
    tuning_file = tmp_path / "tuning.json"
    entry = tune.tune(
        model_repository,
        "camera_x2",
        delays_us=(0, 3000),
        clients=2,
        seconds=1.0,
        frame=(64, 48),
        tuning_file=tuning_file,
    )
    written = json.loads(tuning_file.read_text())["camera_sr_x2"]
    assert written == entry
    candidates = entry["measured"]["candidates"]
    assert [row["max_queue_delay_us"] for row in candidates] == [0, 3000]
    assert all(row["throughput_per_s"] > 0 for row in candidates)
    best = max(candidates, key=lambda row: row["throughput_per_s"])
    assert entry["max_queue_delay_us"] == best["max_queue_delay_us"]  # a 1 s budget holds at 2 clients
    # The overlay is what generated configs see.
    stage = apply_tuning(STAGES, tuning_file)["camera_sr_x2"]
    assert stage.dynamic_batching is not None
    assert stage.dynamic_batching.max_queue_delay_us == entry["max_queue_delay_us"]
    assert f"max_queue_delay_microseconds: {entry['max_queue_delay_us']}" in render(stage_config(stage)) or (
        entry["max_queue_delay_us"] == 0
    )


@pytest.mark.unit
def test_tuning_an_unknown_stage_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "tuning.json"
    path.write_text('{"no_such_stage": {"max_batch_size": 4}}')
    with pytest.raises(ValueError, match="no_such_stage"):
        apply_tuning(STAGES, path)


@pytest.mark.served
def test_no_server_is_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match=r"lumaflow loadtest camera: no server at 127\.0\.0\.1:1 "):
        main(["loadtest", "camera", "--url", "127.0.0.1:1", "--out", str(tmp_path)])
    assert not (tmp_path / "report.json").exists()


@pytest.mark.build
def test_tune_refuses_a_batch_the_ensemble_could_not_load(model_repository: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"max_batch_size \[1\] is below camera_x2's own 8"):
        tune.tune(model_repository, "camera_x2", batch_sizes=(1,), tuning_file=tmp_path / "tuning.json")
    assert not (tmp_path / "tuning.json").exists()

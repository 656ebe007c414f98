"""One source of truth: the committed model repository equals what the declarations generate."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from lumaflow.build.deploy import DEFAULT_REPOSITORY
from lumaflow.ensemble.config import DataType, DynamicBatching, InstanceKind, Tensor
from lumaflow.ensemble.generate import model_configs, repository_files, stale_files, write_repository
from lumaflow.ensemble.pipelines import (
    CAMERA_PIPELINES,
    DENOISE,
    PIPELINES,
    UPSCALE_X2,
    UPSCALE_X2_FAST,
    UPSCALE_X8,
    Pipeline,
)
from lumaflow.ensemble.render import Embedded, NgcOnnxRuntime, NgcTensorRT, Target, render, stage_config
from lumaflow.ensemble.stages import (
    ANALYSIS,
    CAMERA_X2_INT8,
    ESPCN_X2,
    NOISE_MAP,
    OPENVINO_INT8,
    PHOTO_BUCKETS,
    PHOTO_NICE,
    PHOTO_RATE_LIMIT,
    STAGES,
    Network,
    SizeBuckets,
    Stage,
)
from lumaflow.ensemble.tuning import tuned
from lumaflow.params import CPU_NICE_PARAMETER, DecodeParams, StageParams

pytestmark = pytest.mark.unit


def test_committed_configs_equal_the_generated_ones() -> None:
    assert stale_files(DEFAULT_REPOSITORY) == []


def test_a_hand_edit_is_caught(tmp_path: Path) -> None:
    write_repository(tmp_path)
    config = tmp_path / "espcn_x2" / "config.pbtxt"
    config.write_text(config.read_text().replace("max_batch_size: 8", "max_batch_size: 4"))
    (tmp_path / "stray").mkdir()
    (tmp_path / "stray" / "config.pbtxt").write_text('name: "stray"\n')
    assert stale_files(tmp_path) == ["espcn_x2/config.pbtxt", "stray/config.pbtxt (no declaration)"]


def _steps(pipeline: str) -> list[str]:
    text = repository_files()[f"{pipeline}/config.pbtxt"]
    assert 'platform: "ensemble"' in text
    return [line.split('"')[1] for line in text.splitlines() if "model_name:" in line]


def test_the_ensembles_wire_decode_to_their_stages_tilers_then_the_check_and_encode() -> None:
    end = ["quality_check", "encode"]
    assert _steps("upscale_x2") == ["upscale_x2_decode", "span_x2_tiles", *end]
    assert _steps("upscale_x2_fast") == ["upscale_x2_fast_decode", "espcn_x2_tiles", *end]
    assert _steps("upscale_x4") == ["upscale_x4_decode", "span_x4_tiles", *end]
    assert _steps("upscale_x4_fast") == ["upscale_x4_fast_decode", "sr_x4_tiles", *end]
    assert _steps("upscale_x4_realistic") == ["upscale_x4_realistic_decode", "realesrgan_x4_tiles", *end]
    assert _steps("upscale_x8") == ["upscale_x8_decode", "span_x4_tiles", "span_x2_tiles", *end]
    assert _steps("denoise") == ["denoise_decode", "ffdnet_tiles", *end]
    assert _steps("dejpeg") == ["dejpeg_decode", "deblock_tiles", *end]
    assert _steps("dejpeg_waifu2x") == ["dejpeg_waifu2x_decode", "waifu2x_dejpeg_tiles", *end]
    assert _steps("lowlight") == ["lowlight_decode", "low_light", *end]  # untiled: whole-photo statistics
    assert _steps("inpaint") == ["inpaint_decode", "gated_inpainter_tiles", *end]
    assert _steps("photo_enhance") == ["photo_enhance_decode", "photo_route", *end]  # BLS routes inside


def test_a_tiler_calls_its_stage_with_the_stages_own_tensors() -> None:
    text = repository_files()["waifu2x_x2_tiles/config.pbtxt"]
    assert 'backend: "python"' in text and 'string_value: "waifu2x_x2"' in text
    assert 'name: "PIXELS"' in text and 'name: "UPSCALED"' in text
    model_py = repository_files()["waifu2x_x2_tiles/1/model.py"]
    assert isinstance(model_py, str) and "lumaflow.server.models.tiler" in model_py


def test_composing_models_are_warmed_and_ensembles_may_cache() -> None:
    files = repository_files()
    decode = files["upscale_x2_decode/config.pbtxt"]
    assert 'input_data_file: "sample_image"' in decode
    sample = files["upscale_x2_decode/warmup/sample_image"]
    assert isinstance(sample, bytes) and int.from_bytes(sample[:4], "little") == len(sample) - 4
    assert sample[4:6] == b"\xff\xd8"  # a JPEG: a real photo, which the validating decoder accepts
    assert "random_data: true" in files["waifu2x_x2/config.pbtxt"] and "dims: 256" in files["waifu2x_x2/config.pbtxt"]
    assert "model_warmup" not in files["waifu2x_x2_tiles/config.pbtxt"]
    assert "response_cache" in files["upscale_x2/config.pbtxt"]
    # A decode that could ask the analysis network by BLS warms with OPTIONS that spare it (the network may
    # not be loaded yet); the inpainting decode warms with a mask.
    assert 'input_data_file: "sample_options"' in files["denoise_decode/config.pbtxt"]
    assert files["denoise_decode/warmup/sample_options"][4:] == b'{"noise_level": 10}'
    assert 'input_data_file: "sample_mask"' in files["inpaint_decode/config.pbtxt"]
    assert "sample_options" not in files["upscale_x2_decode/config.pbtxt"]


def test_a_cascade_feeds_each_stage_the_previous_output() -> None:
    steps = UPSCALE_X8.ensemble_steps()
    # META passes through each tiler (its tile counts added); GUIDE goes to each, to the check and (blended) encode.
    assert [step.input_map for step in steps[1:3]] == [
        {"PIXELS": "pixels_0", "META": "meta", "GUIDE": "guide"},
        {"PIXELS": "pixels_1", "META": "meta_1", "GUIDE": "guide"},
    ]
    assert steps[3].input_map == {"ORIGINAL": "pixels_0", "PIXELS": "pixels_2", "META": "meta_2", "GUIDE": "guide"}
    assert steps[3].output_map == {"META": "meta_checked", "GUIDED": "guided"}
    assert steps[4].input_map == {"PIXELS": "pixels_2", "GUIDED": "guided", "ALPHA": "alpha", "META": "meta_checked"}
    assert UPSCALE_X8.scale == 8


def test_decode_hands_the_noise_level_to_the_denoiser() -> None:
    decode, ffdnet, *_ = DENOISE.ensemble_steps()
    assert decode.output_map["NOISE_LEVEL"] == ffdnet.input_map["NOISE_LEVEL"] == "noise_level"
    decode_config = repository_files()["denoise_decode/config.pbtxt"]
    assert 'name: "NOISE_LEVEL"' in decode_config and "TYPE_FP32" in decode_config


def test_the_sr_stage_renders_for_native_backends_from_the_same_declaration() -> None:
    onnx = render(stage_config(ESPCN_X2, NgcOnnxRuntime()))
    assert 'backend: "onnxruntime"' in onnx and 'default_model_filename: "model.onnx"' in onnx
    assert "KIND_GPU" in onnx and "max_batch_size: 8" in onnx and 'name: "PIXELS"' in onnx
    plan = render(stage_config(ESPCN_X2, NgcTensorRT()))
    assert 'backend: "tensorrt"' in plan and 'default_model_filename: "model.plan"' in plan
    embedded = render(stage_config(ESPCN_X2))
    assert 'backend: "python"' in embedded and 'key: "onnx_file"' in embedded and "KIND_CPU" in embedded
    assert stage_config(ESPCN_X2, NgcOnnxRuntime()).instance_groups[0].kind is InstanceKind.GPU


def test_dynamic_batching_renders_the_queue_delay() -> None:
    text = render(stage_config(replace(ESPCN_X2, dynamic_batching=DynamicBatching(max_queue_delay_us=1234))))
    assert "max_queue_delay_microseconds: 1234" in text


@pytest.mark.parametrize(
    ("side", "padded"), [(1, 64), (64, 64), (65, 96), (300, 384), (512, 512), (2048, 2048), (2049, 2560)]
)
def test_size_buckets(side: int, padded: int) -> None:
    assert PHOTO_BUCKETS.pad_to(side) == padded


def test_size_buckets_reject_empty_sides() -> None:
    with pytest.raises(ValueError):
        SizeBuckets((64,), 64).pad_to(0)


def test_declarations_reject_inconsistent_pipelines() -> None:
    with pytest.raises(ValueError, match="unknown stages"):
        Pipeline(name="p", doc="", steps=("nope",), max_input_megapixels=1)
    with pytest.raises(ValueError, match="exceeds"):
        replace(UPSCALE_X2, max_batch_size=64)
    with pytest.raises(ValueError, match="needs a network or a python implementation"):
        Stage("x", "", (Tensor("A", DataType.FP32, (1,)),), (), 1, None)


def test_a_stage_named_like_a_pipeline_is_refused() -> None:
    """Both would write model_repository/<name>/config.pbtxt: the second would silently replace the first."""
    from lumaflow.ensemble.pipelines import PIPELINES, model_names
    from lumaflow.ensemble.stages import STAGES, Stage

    clash = dict(STAGES)
    clash["dejpeg"] = Stage(**{**STAGES["deblock"].__dict__, "name": "dejpeg"})
    with pytest.raises(ValueError, match=r"stage and pipeline names must differ.*dejpeg"):
        model_names(PIPELINES, clash)


def test_an_openvino_ir_is_declared_whole_and_rendered_for_openvino_everywhere() -> None:
    """Catches: an IR handed to ONNX Runtime or TensorRT, or declared without the .xml its .bin belongs to."""
    with pytest.raises(ValueError, match="OpenVINO IR"):
        Network(architecture="espcn", weights="camera_x2.pt", quantize=OPENVINO_INT8)  # model.onnx, onnxruntime
    with pytest.raises(ValueError, match="unknown quantisation"):
        Network(architecture="espcn", weights="camera_x2.pt", quantize="int4")
    network = CAMERA_X2_INT8.network
    assert network is not None and network.graph_files == ("model.xml", "model.bin")
    for target in (NgcOnnxRuntime(), NgcTensorRT()):
        native = stage_config(CAMERA_X2_INT8, target)
        assert native.backend == "openvino" and native.default_model_filename == "model.xml"
        assert native.instance_groups[0].kind is InstanceKind.CPU
    assert 'string_value: "openvino"' in render(stage_config(CAMERA_X2_INT8))


def test_an_embedded_int8_stage_serves_its_ir_on_the_cpu_and_the_fp32_graph_on_every_other_target() -> None:
    """Catches: a GPU target handed the int8 IR (TensorRT cannot read it; NVIDIA's image would run the stage on the
    CPU), the embedded stage left on the fp32 graph, the IR's files left out of the build, or a bad precision."""
    stage = tuned(ESPCN_X2, {"precision": "int8"})
    network = stage.network
    assert network is not None and network.embedded_int8
    assert network.graph_files == ("model.onnx", "model_int8.xml", "model_int8.bin")
    params = StageParams.from_parameters(stage_config(stage).parameters)
    assert (params.onnx_file, params.engine) == ("model_int8.xml", "openvino")
    native = stage_config(stage, NgcOnnxRuntime())
    assert native.backend == "onnxruntime" and native.default_model_filename == "model.onnx"
    assert stage_config(stage, NgcTensorRT()).backend == "tensorrt"
    fp32 = StageParams.from_parameters(stage_config(tuned(stage, {"precision": "fp32"})).parameters)
    assert fp32.onnx_file == "model.onnx"
    with pytest.raises(ValueError, match="precision"):
        tuned(ESPCN_X2, {"precision": "int4"})
    with pytest.raises(ValueError, match="embedded int8"):
        replace(CAMERA_X2_INT8.network, embedded_int8=True)  # already an IR


def test_camera_stages_run_two_instances_and_everything_else_in_python_yields_the_cores() -> None:
    """Catches: a camera stage back to one instance (Triton's batcher then slept 0.5 s on frames, issue 26), or
    a photo model's stub left at the camera's priority."""
    configs = {config.name: config for config in model_configs()}
    camera_stages = {camera.stage for camera in CAMERA_PIPELINES.values()}
    for name in camera_stages:
        assert configs[name].instance_groups[0].count >= 2, name
        assert CPU_NICE_PARAMETER not in configs[name].parameters, name
    python_photo = [c for c in configs.values() if c.backend == "python" and c.name not in camera_stages]
    assert len(python_photo) >= 40
    assert all(c.parameters[CPU_NICE_PARAMETER] == str(PHOTO_NICE) for c in python_photo)


def test_a_lone_photo_network_waits_a_delay_and_the_lean_ones_run_two_instances_without() -> None:
    """Catches: a photo network with one instance and no delay (its batcher slept 500 ms under four callers), or the
    small-photo networks back to paying the 5 ms delay on every photo (issue 26's lean path)."""
    photo_networks = [stage for stage in STAGES.values() if stage.network and not stage.name.startswith("camera_")]
    assert len(photo_networks) >= 15
    lean = {stage.name for stage in photo_networks if stage.instances.count == 2}
    assert lean == {"espcn_x2", "ffdnet"}
    for stage in photo_networks:
        delay = stage.dynamic_batching.max_queue_delay_us if stage.dynamic_batching else None
        assert (delay == 0) if stage.name in lean else (delay is not None and delay > 0), stage.name


def test_only_a_pipeline_of_one_lean_network_with_per_image_side_inputs_finishes_small_photos_in_decode() -> None:
    finishing = {name for name, pipeline in PIPELINES.items() if pipeline.one_tile_stage is not None}
    assert finishing == {"upscale_x2_fast", "denoise"}
    configs = {config.name: config for config in model_configs()}
    for pipeline in (UPSCALE_X2_FAST, DENOISE):
        decode = configs[pipeline.decode_model]
        (group,) = decode.instance_groups
        assert group.rate_limiter == PHOTO_RATE_LIMIT  # it runs a network: it takes its turn on the cores
        assert "ENCODED" in [tensor.name for tensor in decode.outputs]
        params = DecodeParams.from_parameters(decode.parameters)
        assert params.one_tile is not None and params.one_tile.stage == pipeline.stages[0].name
        served = stage_config(pipeline.stages[0]).parameters
        assert params.one_tile.params == StageParams.from_parameters(served)  # the stage model's own graph and engine
        first, *_, last = pipeline.ensemble_steps(one_tile=True)
        assert first.output_map["ENCODED"] == last.input_map["ENCODED"] == "encoded"
    # Holding photo_compute, denoise's decode runs what NOISE_LEVEL asks itself: no BLS to a model that needs it.
    denoise = DecodeParams.from_parameters(configs["denoise_decode"].parameters)
    assert denoise.one_tile is not None and denoise.one_tile.side == ("NOISE_LEVEL",)
    assert denoise.analysis_in_decode is not None and denoise.noise_map_in_decode is not None
    assert denoise.analysis_in_decode.params == StageParams.from_parameters(stage_config(ANALYSIS).parameters)
    assert denoise.noise_map_in_decode.params == StageParams.from_parameters(stage_config(NOISE_MAP).parameters)
    for name in ("upscale_x2_decode", "dejpeg_decode", "inpaint_decode"):
        params = DecodeParams.from_parameters(configs[name].parameters)
        assert params.one_tile is None and params.analysis_in_decode is None
        assert configs[name].instance_groups[0].rate_limiter is None  # it calls networks by BLS: it must not hold one


@pytest.mark.parametrize("target", [NgcOnnxRuntime(), NgcTensorRT(), Embedded(one_tile=False)])
def test_where_decode_cannot_run_the_stage_as_served_every_photo_goes_to_the_tiler(target: Target) -> None:
    configs = {config.name: config for config in model_configs(target)}
    assert DecodeParams.from_parameters(configs["upscale_x2_fast_decode"].parameters).one_tile is None
    assert "ENCODED" not in render(configs["upscale_x2_fast"])

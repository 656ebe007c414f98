"""Pipeline declarations: ordered stages and the tensor wiring between them.

A photo pipeline is ``decode -> neural stages... -> encode``. Triton ensembles cannot hand a
step a constant, so the pipeline's own facts (its name, limits, size buckets and the card that
INFO reports) reach the steps through a per-pipeline decode model, ``<pipeline>_decode``,
which carries them in its config and forwards them to encode in the ``META`` tensor.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import contract
from .config import EnsembleStep, Tensor
from .options import OUTPUT_OPTIONS, Option
from .stages import DECODE, ENCODE, STAGES, SizeBuckets, Stage


@dataclass(frozen=True)
class Pipeline:
    """A served pipeline: the public contract in, ``steps`` in order, the contract out."""

    name: str
    doc: str
    steps: tuple[str, ...]
    max_input_megapixels: float
    max_batch_size: int = 8
    options: tuple[Option, ...] = OUTPUT_OPTIONS
    max_input_megabytes: float = 64.0  # the encoded file; a 12 MP phone JPEG is 3-8 MB, a 16-bit TIFF 72
    max_output_megapixels: float = 64.0  # what encode and the client must hold: 64 MP is 192 MB of RGB

    @property
    def stages(self) -> tuple[Stage, ...]:
        """The neural stages between decode and encode, in order."""
        return tuple(STAGES[name] for name in self.steps)

    @property
    def decode_model(self) -> str:
        """The name of this pipeline's own decode model."""
        return f"{self.name}_{DECODE.name}"

    @property
    def side_inputs(self) -> tuple[Tensor, ...]:
        """Stage inputs other than the pixels (e.g. NOISE_LEVEL): decode computes them per request."""
        seen: dict[str, Tensor] = {}
        for stage in self.stages:
            for tensor in stage.inputs[1:]:
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

    def __post_init__(self) -> None:
        unknown = [name for name in self.steps if name not in STAGES]
        if unknown:
            raise ValueError(f"pipeline {self.name!r} names unknown stages: {unknown}")
        for stage in self.stages:
            if stage.network is None:
                raise ValueError(f"pipeline {self.name!r}: step {stage.name!r} is not a neural stage")
            if stage.max_batch_size < self.max_batch_size:
                raise ValueError(
                    f"pipeline {self.name!r}: max_batch_size {self.max_batch_size} exceeds "
                    f"stage {stage.name!r}'s {stage.max_batch_size}"
                )

    def ensemble_steps(self) -> tuple[EnsembleStep, ...]:
        """The ensemble's steps: each neural stage reads the previous stage's pixels."""
        steps = [
            EnsembleStep(
                model_name=self.decode_model,
                input_map={contract.IMAGE.name: contract.IMAGE.name, contract.OPTIONS.name: contract.OPTIONS.name},
                output_map={
                    contract.PIXELS.name: "pixels_0",
                    contract.ALPHA.name: "alpha",
                    contract.META.name: "meta",
                    **{tensor.name: tensor.name.lower() for tensor in self.side_inputs},
                },
            )
        ]
        for index, stage in enumerate(self.stages):
            pixels_in, *side = stage.inputs
            (pixels_out,) = stage.outputs
            steps.append(
                EnsembleStep(
                    model_name=stage.tiler_name,
                    input_map={pixels_in.name: f"pixels_{index}", **{t.name: t.name.lower() for t in side}},
                    output_map={pixels_out.name: f"pixels_{index + 1}"},
                )
            )
        steps.append(
            EnsembleStep(
                model_name=ENCODE.name,
                input_map={
                    contract.PIXELS.name: f"pixels_{len(self.stages)}",
                    contract.ALPHA.name: "alpha",
                    contract.META.name: "meta",
                },
                output_map={contract.ENHANCED.name: contract.ENHANCED.name, contract.INFO.name: contract.INFO.name},
            )
        )
        return tuple(steps)


NOISE_LEVEL_OPTION = Option(
    "noise_level",
    "number",
    "Standard deviation of the noise to remove; estimated from the photo when left out",
    None,
    minimum=0,
    maximum=75,
    unit="σ on the 0-255 scale",
)

# Variants are separate pipelines, not a routing option: an ensemble is a fixed graph (it cannot
# branch), and one ensemble per variant keeps each variant's batches pure and its latency its own.
UPSCALE_X2 = Pipeline(
    name="upscale_x2",
    doc="x2 super-resolution, PSNR-faithful: waifu2x upconv_7 photo",
    steps=("waifu2x_x2",),
    max_input_megapixels=16.0,
    max_batch_size=4,
)
UPSCALE_X2_FAST = Pipeline(
    name="upscale_x2_fast",
    doc="x2 super-resolution, fast: our ESPCN (30 k parameters, about 18x cheaper than waifu2x)",
    steps=("espcn_x2",),
    max_input_megapixels=16.0,
)
UPSCALE_X4 = Pipeline(
    name="upscale_x4",
    doc="x4 super-resolution, PSNR-faithful: SRMD noise-free x4 (more faithful than a waifu2x x2 cascade)",
    steps=("srmd_x4",),
    max_input_megapixels=4.0,
    max_batch_size=4,
)
UPSCALE_X4_FAST = Pipeline(
    name="upscale_x4_fast",
    doc="x4 super-resolution, fast: our ESPCN-class x4 (about 7x cheaper than SRMD, less faithful)",
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
    doc="x8 super-resolution: SRMD x4, then waifu2x x2",
    steps=("srmd_x4", "waifu2x_x2"),
    max_input_megapixels=1.0,
    max_batch_size=4,
)
DENOISE = Pipeline(
    name="denoise",
    doc="noise removal, noise-level aware: FFDNet colour, level from OPTIONS or estimated",
    steps=("ffdnet",),
    max_input_megapixels=24.0,
    options=(NOISE_LEVEL_OPTION, *OUTPUT_OPTIONS),
)
DEJPEG = Pipeline(
    name="dejpeg",
    doc="JPEG artefact removal, ours: deblock, blind over q10-60 (+1.16 dB at q10; 6x cheaper than waifu2x's)",
    steps=("deblock",),
    max_input_megapixels=24.0,
)
DEJPEG_WAIFU2X = Pipeline(
    name="dejpeg_waifu2x",
    doc="JPEG artefact removal: waifu2x upconv_7 photo noise 3 at x1 (better than ours at q20-30, below at q10)",
    steps=("waifu2x_dejpeg",),
    max_input_megapixels=24.0,
    max_batch_size=4,
)

PIPELINES: dict[str, Pipeline] = {
    pipeline.name: pipeline
    for pipeline in (
        UPSCALE_X2,
        UPSCALE_X2_FAST,
        UPSCALE_X4,
        UPSCALE_X4_FAST,
        UPSCALE_X4_REALISTIC,
        UPSCALE_X8,
        DENOISE,
        DEJPEG,
        DEJPEG_WAIFU2X,
    )
}


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


CAMERA_PIPELINES: dict[str, CameraPipeline] = {
    camera.name: camera
    for camera in (
        CameraPipeline(
            "camera_x2", "real-time x2 of camera frames: our ESPCN, about 30 fps at 320x240 on 2 cores", "camera_sr_x2"
        ),
        CameraPipeline("camera_x2_int8", "camera_x2 quantised to int8 (ONNX Runtime, VNNI)", "camera_sr_x2_int8"),
        CameraPipeline(
            "camera_x1", "real-time light denoise and exposure correction of camera frames", "camera_restore_x1"
        ),
    )
}


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

"""Stage declarations: the one place a stage's names, shapes, dtypes and batching are written.

Everything else -- ``config.pbtxt`` files, the ensembles, the ONNX export's tensor names, the
build step that makes missing artefacts -- is derived from these objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import contract
from .config import DynamicBatching, InstanceGroup, QueuePolicy, Tensor


@dataclass(frozen=True)
class SizeBuckets:
    """Sizes an image side is padded up to, so that different photos share a batch.

    Triton's dynamic batcher only batches requests whose tensors have the same shape. Padding
    each side up to the next value of a short ladder makes photos of similar size share one
    shape (and a TensorRT profile) at a bounded cost: at most ``1/ratio`` extra pixels per side.
    Sides above the ladder's top are rounded up to a multiple of ``step_above``.
    """

    ladder: tuple[int, ...]
    step_above: int

    def pad_to(self, side: int) -> int:
        """The padded length of an image side of ``side`` pixels."""
        if side <= 0:
            raise ValueError(f"an image side must be positive, got {side}")
        for bucket in self.ladder:
            if side <= bucket:
                return bucket
        return -(-side // self.step_above) * self.step_above


@dataclass(frozen=True)
class Network:
    """Where a neural stage's graph comes from: a registered architecture and its weights.

    ``weights`` names a file in ``lumaflow.build``'s weights folder; the build step exports it
    to ``<stage>/1/<onnx_file>`` in the model repository (generated, never committed).
    """

    architecture: str
    weights: str
    onnx_file: str = "model.onnx"

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
    parameters: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.network is None and not self.implementation:
            raise ValueError(f"stage {self.name!r} needs a network or a python implementation")
        if self.network is not None and self.implementation:
            raise ValueError(f"stage {self.name!r} has both a network and a python implementation")
        if self.max_batch_size < 1:
            raise ValueError(f"stage {self.name!r}: pipelines batch, so max_batch_size must be >= 1")


# One ladder for photo-sized inputs: steps of at most x1.5, so padding wastes at most a third of
# a side, and the shapes stay few enough for TensorRT optimisation profiles.
PHOTO_BUCKETS = SizeBuckets(ladder=(64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048), step_above=512)

SR_X2 = Stage(
    name="sr_x2",
    doc="x2 super-resolution network (ESPCN class, trained on real photos), uint8 HWC in and out",
    inputs=(contract.PIXELS,),
    outputs=(contract.UPSCALED,),
    max_batch_size=8,
    dynamic_batching=DynamicBatching(max_queue_delay_us=5_000, queue_policy=QueuePolicy()),
    network=Network(architecture="espcn", weights="espcn_x2.pt"),
    scale=2,
    size_buckets=PHOTO_BUCKETS,
    threads=2,
)

# decode is instantiated once per pipeline (see pipelines.py); this is its shared template.
DECODE = Stage(
    name="decode",
    doc="encoded bytes -> RGB pixels padded to the next stage's size bucket, EXIF applied; OPTIONS validated",
    inputs=(contract.IMAGE, contract.OPTIONS),
    outputs=(contract.PIXELS, contract.META),
    max_batch_size=16,
    dynamic_batching=DynamicBatching(max_queue_delay_us=0),
    implementation="lumaflow.server.models.decode",
)

ENCODE = Stage(
    name="encode",
    doc="pixels -> PNG bytes cropped to the real size, plus the INFO JSON",
    inputs=(contract.PIXELS, contract.META),
    outputs=(contract.ENHANCED, contract.INFO),
    max_batch_size=16,
    dynamic_batching=DynamicBatching(max_queue_delay_us=0),
    implementation="lumaflow.server.models.encode",
)

STAGES: dict[str, Stage] = {stage.name: stage for stage in (DECODE, SR_X2, ENCODE)}

"""The public contract of every pipeline: tensor names, dtypes and dims, OPTIONS keys, reason codes.

A leaf: it imports the standard library only, so the client, the declarations, the runtime and the
serving stubs all read the same names without importing each other. Clients and outside checks rely
on these names; changing one is a breaking change.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

# The release: INFO's ``version``, the package's version (pyproject reads it from here).
VERSION = "0.1.0"


class DataType(enum.Enum):
    """``DataType`` of Triton's model_config.proto: the element types our tensors use, by their proto names."""

    UINT8 = "TYPE_UINT8"
    INT32 = "TYPE_INT32"
    INT64 = "TYPE_INT64"
    FP16 = "TYPE_FP16"
    FP32 = "TYPE_FP32"
    STRING = "TYPE_STRING"


@dataclass(frozen=True)
class Tensor:
    """``ModelInput`` / ``ModelOutput``: one named tensor, dims without the batch dimension."""

    name: str
    dtype: DataType
    dims: tuple[int, ...]
    doc: str = ""
    optional: bool = False
    # The values a per-image side input may take (inclusive). Not a Triton field: an embedded ONNX stage
    # gets it as a parameter and answers a value outside it with INVALID_ARGUMENT, instead of letting
    # the graph index past a table (a look that does not exist) and fail the request as INTERNAL.
    value_range: tuple[float, float] | None = None


OPTIONS = Tensor(
    "OPTIONS",
    DataType.STRING,
    (1,),
    "optional JSON object; keys, types, units and defaults in <pipeline>/options.schema.json",
    optional=True,
)
IMAGE = Tensor("IMAGE", DataType.STRING, (1,), "the encoded file (JPEG, PNG, WebP, TIFF, BMP, GIF, HEIC, AVIF)")
ENHANCED = Tensor("ENHANCED", DataType.STRING, (1,), "the encoded result (PNG unless asked otherwise)")
MASK = Tensor(
    "MASK",
    DataType.STRING,
    (1,),
    "inpainting: the encoded mask (PNG), the photo's upright size; non-zero (white) pixels are removed",
)
REGION = Tensor(
    "REGION",
    DataType.STRING,
    (1,),
    "optional: an encoded grey (or alpha) image of the photo's upright size, above 127 = here; OPTIONS region_mode"
    " (only / except) and region_feather say how the result is blended with the input",
    optional=True,
)
INFO = Tensor("INFO", DataType.STRING, (1,), "JSON: pipeline, input, output, stages, timings_ms, models, version")

# The camera pipelines' contract: raw frames, no files.
FRAME = Tensor("FRAME", DataType.UINT8, (-1, -1, 3), "one RGB frame, HWC; frames of one shape batch together")
ENHANCED_FRAME = Tensor("ENHANCED_FRAME", DataType.UINT8, (-1, -1, 3), "the enhanced RGB frame, HWC")

# Internal tensors between the stages of a pipeline.
PIXELS = Tensor("PIXELS", DataType.UINT8, (-1, -1, 3), "RGB pixels, HWC, padded to the stage's size bucket")
UPSCALED = Tensor("UPSCALED", DataType.UINT8, (-1, -1, 3), "RGB pixels, HWC, the stage's scale times larger")
DENOISED = Tensor("DENOISED", DataType.UINT8, (-1, -1, 3), "RGB pixels, HWC, with the noise removed")
RESTORED = Tensor("RESTORED", DataType.UINT8, (-1, -1, 3), "RGB pixels, HWC, with compression artefacts removed")
NOISE_LEVEL = Tensor(
    "NOISE_LEVEL", DataType.FP32, (1,), "σ of the noise to remove, 0-255 scale (from OPTIONS or estimated)"
)
JPEG_QUALITY = Tensor(
    "JPEG_QUALITY",
    DataType.FP32,
    (1,),
    "the JPEG quality (1-100) the photo was saved at: from the file's quantisation tables, else estimated",
)
ALPHA = Tensor(
    "ALPHA", DataType.UINT8, (-1, -1), "the input's transparency plane, HW at input size; 0x0 when it is opaque"
)
HOLE = Tensor("HOLE", DataType.UINT8, (-1, -1, 1), "1 where pixels are to be filled, HW1, padded as PIXELS")
RESULT = Tensor(
    "RESULT", DataType.UINT8, (-1, -1, 3), "a router's result: RGB pixels, HWC, unpadded, at the scale META says"
)
# Its value range is the looks the network knows, declared with the looks (lumaflow.ensemble.stages.LOOKS).
TEMPLATE = Tensor("TEMPLATE", DataType.INT32, (1,), "stylize: the look's index in lumaflow.ensemble.looks.TEMPLATES")
STRENGTH = Tensor(
    "STRENGTH", DataType.FP32, (1,), "stylize: 0 keeps the photo, 1 applies the look fully", value_range=(0.0, 1.0)
)
DAMAGE = Tensor(
    "DAMAGE", DataType.UINT8, (-1, -1, 1), "old photos: probability x 255 that a pixel is damage (scratch, dust, tear)"
)
GUIDE = Tensor(
    "GUIDE",
    DataType.UINT8,
    (-1, -1),
    "the result's weight x 255 per input pixel (REGION feathered, 0 everywhere at strength 0), HW padded as PIXELS;"
    " 0x0 when the whole photo is enhanced",
)
GUIDED = Tensor(
    "GUIDED",
    DataType.UINT8,
    (-1, -1, 3),
    "the result blended with the input by GUIDE and strength, unpadded at the output size; 0x0 when not blended",
)
ORIGINAL = Tensor("ORIGINAL", DataType.UINT8, (-1, -1, 3), "the pipeline's input pixels as decode gave them")
# The assessors: the analysis answers per crop (the caller aggregates a photo's crops), the quality score per photo.
ANALYSIS_FIELDS = ("noise_sigma", "jpeg_quality", "blur_sigma", "exposure_ev", "p_colour", "p_grey", "p_sepia")
# Served units of the first four fields per unit of the network's raw output (σ on 0-255; quality
# 0-100 with 100 = not JPEG-compressed; blur σ in pixels; EV relative to a normal exposure).
ANALYSIS_SCALES = (50.0, 100.0, 3.0, 3.0)
NOISE_ESTIMATE = Tensor(
    "NOISE_ESTIMATE",
    DataType.FP32,
    (1,),
    "per crop: the noise-map estimator's mean level over the crop (σ on 0-255, the level FFDNet does best told)",
)
ANALYSIS = Tensor(
    "ANALYSIS",
    DataType.FP32,
    (len(ANALYSIS_FIELDS),),
    "per crop: noise σ (0-255), JPEG quality (100: none), blur σ px, exposure EV, P(colour), P(grey), P(sepia)",
)
CROPS = Tensor(
    "CROPS",
    DataType.UINT8,
    (-1, -1, -1, 3),
    "one photo's assessment crops, KHWC (lumaflow.runtime.crops), scored together",
)
QUALITY = Tensor("QUALITY", DataType.FP32, (1,), "per photo (its CROPS): no-reference quality, 0 (worst) to 100")
META = Tensor("META", DataType.STRING, (1,), "JSON carried from decode to encode: sizes, timings, the card")
ENCODED = Tensor(
    "ENCODED",
    DataType.STRING,
    (1,),
    "the result file, when decode ran the network and encoded it itself (a photo that fits one tile); empty if not",
)

# Reason codes that open every INVALID_ARGUMENT message, in brackets: "[invalid_image] ...".
INVALID_IMAGE = "invalid_image"
IMAGE_TOO_LARGE = "image_too_large"
INVALID_OPTIONS = "invalid_options"
MASK_MISMATCH = "mask_mismatch"
REASON_CODES = (INVALID_IMAGE, IMAGE_TOO_LARGE, INVALID_OPTIONS, MASK_MISMATCH)

# Progress of a photo request: OPTIONS ``progress`` names it (this pattern: no path can be built from it), and the
# progress model answers PROGRESS for PROGRESS_ID with each tiled stage's tiles done of total so far.
PROGRESS_ID_PATTERN = "^[A-Za-z0-9_-]{8,64}$"
PROGRESS_ID = Tensor("PROGRESS_ID", DataType.STRING, (1,), "the id a photo request gave as OPTIONS progress")
PROGRESS = Tensor(
    "PROGRESS",
    DataType.STRING,
    (1,),
    'JSON: {"stages": {stage: [tiles done, tiles in all]}, "age_s": seconds since the last tile}; {} before any',
)

# OPTIONS: the schema file beside each pipeline in the model repository, and the key that names a preset.
SCHEMA_FILE = "options.schema.json"
PRESET_KEY = "preset"

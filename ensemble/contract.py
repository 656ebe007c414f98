"""The public contract of every photo pipeline: tensor names and error reason codes.

Clients and outside checks rely on these names; changing one is a breaking change.
"""

from __future__ import annotations

from .config import DataType, Tensor
from .looks import TEMPLATE_NAMES

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
ALPHA = Tensor(
    "ALPHA", DataType.UINT8, (-1, -1), "the input's transparency plane, HW at input size; 0x0 when it is opaque"
)
HOLE = Tensor("HOLE", DataType.UINT8, (-1, -1, 1), "1 where pixels are to be filled, HW1, padded as PIXELS")
RESULT = Tensor(
    "RESULT", DataType.UINT8, (-1, -1, 3), "a router's result: RGB pixels, HWC, unpadded, at the scale META says"
)
TEMPLATE = Tensor(
    "TEMPLATE",
    DataType.INT32,
    (1,),
    "stylize: the look's index in lumaflow.ensemble.looks.TEMPLATES (from OPTIONS)",
    value_range=(0, len(TEMPLATE_NAMES) - 1),
)
STRENGTH = Tensor(
    "STRENGTH", DataType.FP32, (1,), "stylize: 0 keeps the photo, 1 applies the look fully", value_range=(0.0, 1.0)
)
DAMAGE = Tensor(
    "DAMAGE", DataType.UINT8, (-1, -1, 1), "old photos: probability x 255 that a pixel is damage (scratch, dust, tear)"
)
ORIGINAL = Tensor("ORIGINAL", DataType.UINT8, (-1, -1, 3), "the pipeline's input pixels as decode gave them")
# The assessors: the analysis answers per crop (the caller aggregates a photo's crops), the quality score per photo.
ANALYSIS_FIELDS = ("noise_sigma", "jpeg_quality", "blur_sigma", "exposure_ev", "p_colour", "p_grey", "p_sepia")
# Served units of the first four fields per unit of the network's raw output (σ on 0-255; quality
# 0-100 with 100 = not JPEG-compressed; blur σ in pixels; EV relative to a normal exposure).
ANALYSIS_SCALES = (50.0, 100.0, 3.0, 3.0)
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
    "one photo's assessment crops, KHWC (lumaflow.server.crops), scored together",
)
QUALITY = Tensor("QUALITY", DataType.FP32, (1,), "per photo (its CROPS): no-reference quality, 0 (worst) to 100")
META = Tensor("META", DataType.STRING, (1,), "JSON carried from decode to encode: sizes, timings, the card")

# Reason codes that open every INVALID_ARGUMENT message, in brackets: "[invalid_image] ...".
INVALID_IMAGE = "invalid_image"
IMAGE_TOO_LARGE = "image_too_large"
INVALID_OPTIONS = "invalid_options"
MASK_MISMATCH = "mask_mismatch"
REASON_CODES = (INVALID_IMAGE, IMAGE_TOO_LARGE, INVALID_OPTIONS, MASK_MISMATCH)

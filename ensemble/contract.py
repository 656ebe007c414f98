"""The public contract of every photo pipeline: tensor names and error reason codes.

Clients and outside checks rely on these names; changing one is a breaking change.
"""

from __future__ import annotations

from .config import DataType, Tensor

OPTIONS = Tensor(
    "OPTIONS",
    DataType.STRING,
    (1,),
    "optional JSON object; keys, types, units and defaults in <pipeline>/options.schema.json",
    optional=True,
)
IMAGE = Tensor("IMAGE", DataType.STRING, (1,), "the encoded file (JPEG, PNG, WebP, TIFF, BMP, GIF, HEIC, AVIF)")
ENHANCED = Tensor("ENHANCED", DataType.STRING, (1,), "the encoded result (PNG unless asked otherwise)")
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
META = Tensor("META", DataType.STRING, (1,), "JSON carried from decode to encode: sizes, timings, the card")

# Reason codes that open every INVALID_ARGUMENT message, in brackets: "[invalid_image] ...".
INVALID_IMAGE = "invalid_image"
IMAGE_TOO_LARGE = "image_too_large"
INVALID_OPTIONS = "invalid_options"
MASK_MISMATCH = "mask_mismatch"
REASON_CODES = (INVALID_IMAGE, IMAGE_TOO_LARGE, INVALID_OPTIONS, MASK_MISMATCH)

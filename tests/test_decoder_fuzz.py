"""A bounded, reproducible property-based fuzz of what a client controls: the decoder and OPTIONS.

Every outcome is either a sane decoded image or ``InvalidInput`` with a known reason code and a
message free of paths; any other exception is a bug (it would reach the client as INTERNAL).
The runs are derandomised, so CI sees the same examples every time; each takes a few seconds.
"""

from __future__ import annotations

import functools
import json
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lumaflow import contract
from lumaflow.ensemble.options import PRESET_KEY
from lumaflow.runtime.errors import InvalidInput
from lumaflow.runtime.imaging import DecodedImage, Limits, decode_image
from lumaflow.runtime.mask import decode_mask
from lumaflow.runtime.options import OptionsParser
from tests.bad_inputs import leaks
from tests.fixtures import astronaut, encode
from tests.odd_files import heic

FUZZ = settings(
    max_examples=200,
    deadline=5000,  # ms: a mutated header may declare up to the limit's megapixels of garbage to decode
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# Small, so a mutated header that declares a large size is refused (or decoded) quickly.
LIMITS = Limits(max_megapixels=1.0, max_output_megapixels=4.0, scale=2)
# Pillow warns (with its own file path) about the corrupt EXIF blocks mutations make; expected here.
pytestmark = [pytest.mark.unit, pytest.mark.filterwarnings("ignore::UserWarning")]


@functools.cache
def seeds() -> dict[str, bytes]:
    """Small real photos in every format the decoder reads."""
    pixels = astronaut()[96:144, 160:224]
    rgba = np.dstack([pixels, np.full(pixels.shape[:2], 200, dtype=np.uint8)])
    return {
        "jpeg": encode(pixels, "JPEG", quality=85),
        "progressive-jpeg": encode(pixels, "JPEG", quality=85, progressive=True),
        "png": encode(pixels, "PNG"),
        "png-alpha": encode(rgba, "PNG"),
        "webp": encode(pixels, "WEBP", quality=80),
        "webp-lossless": encode(pixels, "WEBP", lossless=True),
        "tiff": encode(pixels, "TIFF", compression="tiff_deflate"),
        "gif": encode(pixels, "GIF"),
        "bmp": encode(pixels[:16, :16], "BMP"),
        "heic": heic(pixels),
    }


def check_decoded(data: bytes) -> None:
    """The property: a sane image or a clean ``InvalidInput``; anything else propagates and fails."""
    try:
        decoded = decode_image(data, limits=LIMITS)
    except InvalidInput as error:
        message = str(error)
        assert error.reason in (contract.INVALID_IMAGE, contract.IMAGE_TOO_LARGE), message
        assert message.startswith(f"[{error.reason}] ") and message.endswith("."), message
        assert not leaks(message), message
        return
    assert isinstance(decoded, DecodedImage)
    assert decoded.pixels.dtype == np.uint8 and decoded.pixels.ndim == 3 and decoded.pixels.shape[2] == 3
    assert decoded.width >= 1 and decoded.height >= 1
    assert decoded.width * decoded.height <= LIMITS.max_megapixels * 1e6
    if decoded.alpha is not None:
        assert decoded.alpha.dtype == np.uint8 and decoded.alpha.shape == decoded.pixels.shape[:2]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A real file truncated, with bytes flipped or overwritten, or with foreign bytes spliced in."""
    data = bytearray(seeds()[draw(st.sampled_from(sorted(seeds())))])
    for _ in range(draw(st.integers(1, 4))):
        if not data:
            break
        kind = draw(st.sampled_from(["truncate", "flip", "overwrite", "splice", "delete"]))
        at = draw(st.integers(0, len(data) - 1))
        if kind == "truncate":
            del data[at:]
        elif kind == "flip":
            data[at] ^= draw(st.integers(1, 255))
        elif kind == "overwrite":
            patch = draw(st.binary(min_size=1, max_size=8))
            data[at : at + len(patch)] = patch
        elif kind == "splice":
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
        else:
            del data[at : at + draw(st.integers(1, 64))]
    return bytes(data)


@FUZZ
@given(data=mutated())
def test_mutated_real_files_decode_or_are_refused_cleanly(data: bytes) -> None:
    check_decoded(data)


@settings(FUZZ, max_examples=100)
@given(data=st.binary(max_size=4096))
def test_arbitrary_bytes_decode_or_are_refused_cleanly(data: bytes) -> None:
    check_decoded(data)


@settings(FUZZ, max_examples=100)
@given(
    magic=st.sampled_from(
        [
            b"\xff\xd8\xff\xe0",
            b"\x89PNG\r\n\x1a\n",
            b"GIF89a",
            b"II*\x00",
            b"MM\x00*",
            b"BM",
            b"RIFF\x00\x00\x00\x00WEBP",
        ]
    ),
    rest=st.binary(max_size=512),
)
def test_a_known_signature_followed_by_garbage_is_refused_cleanly(magic: bytes, rest: bytes) -> None:
    check_decoded(magic + rest)


@settings(FUZZ, max_examples=100)
@given(data=mutated())
def test_mutated_files_as_masks_are_read_or_refused_cleanly(data: bytes) -> None:
    """The inpainting MASK goes through its own reader; the same mutations must not break it either."""
    try:
        mask = decode_mask(data, 64, 48)
    except InvalidInput as error:
        assert error.reason in (contract.INVALID_IMAGE, contract.MASK_MISMATCH), str(error)
        assert not leaks(str(error)), str(error)
        return
    assert mask.dtype == np.bool_ and mask.shape == (48, 64)


def test_every_seed_decodes() -> None:
    """The fuzz starts from files the decoder reads, so its mutations probe real parsing paths."""
    for name, data in seeds().items():
        decoded = decode_image(data, limits=LIMITS)
        assert decoded.pixels.shape[:2] == ((16, 16) if name == "bmp" else (48, 64)), name


# --- OPTIONS -------------------------------------------------------------------------------------------

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "format": {"type": "string", "default": "png", "enum": ["png", "jpeg", "webp"]},
        "quality": {"type": "integer", "default": 92, "minimum": 1, "maximum": 100},
        "noise_level": {"type": "number", "minimum": 0, "maximum": 75},
        "keep_gps": {"type": "boolean", "default": False},
        PRESET_KEY: {"type": "string", "enum": ["soft"]},
    },
    "additionalProperties": False,
}
PRESETS = {"soft": {"quality": 80}}

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(["png", "jpeg", "webp", "soft"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
# Mostly objects with the schema's own keys, so values reach the per-key checks, not just the key check.
option_objects = st.dictionaries(
    st.sampled_from(["format", "quality", "noise_level", "keep_gps", PRESET_KEY]) | st.text(max_size=8),
    json_values,
    max_size=5,
)


def check_options(raw: bytes) -> None:
    parser = OptionsParser(SCHEMA, PRESETS)
    try:
        options = parser.parse(raw)
    except InvalidInput as error:
        message = str(error)
        assert error.reason == contract.INVALID_OPTIONS, message
        assert message.startswith("[invalid_options] OPTIONS"), message
        return
    assert set(options) - {PRESET_KEY} == {"format", "quality", "noise_level", "keep_gps"}
    assert options["format"] in ("png", "jpeg", "webp")
    assert isinstance(options["quality"], int | float) and 1 <= options["quality"] <= 100
    assert isinstance(options["keep_gps"], bool)
    level = options["noise_level"]
    assert level is None or (isinstance(level, int | float) and math.isfinite(level) and 0 <= level <= 75)


@FUZZ
@given(value=json_values | option_objects)
def test_any_json_options_parse_or_are_refused_cleanly(value: Any) -> None:
    check_options(json.dumps(value).encode())


@settings(FUZZ, max_examples=100)
@given(raw=st.binary(max_size=256) | st.text(max_size=64).map(str.encode))
def test_any_bytes_as_options_parse_or_are_refused_cleanly(raw: bytes) -> None:
    check_options(raw)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"noise_level": NaN}',
        b'{"noise_level": Infinity}',
        b'{"quality": -Infinity}',
        b"[" * 100_000,
        b'{"a":' * 100_000,
        b'{"quality": 1' + b"0" * 5000 + b"}",
    ],
    ids=["nan", "infinity", "minus-infinity", "deep-list", "deep-object", "5000-digit-integer"],
)
def test_options_json_edge_cases_are_refused_cleanly(raw: bytes) -> None:
    with pytest.raises(InvalidInput) as caught:
        OptionsParser(SCHEMA, PRESETS).parse(raw)
    assert caught.value.reason == contract.INVALID_OPTIONS


def test_a_long_bad_value_is_cut_short_in_the_message() -> None:
    with pytest.raises(InvalidInput) as caught:
        OptionsParser(SCHEMA, PRESETS).parse(json.dumps({"format": "x" * 100_000}).encode())
    assert str(caught.value).startswith("[invalid_options] OPTIONS.format: 'xxx")
    assert len(str(caught.value)) < 300

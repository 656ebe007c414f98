"""The inpainting MASK: decoded, checked against the photo, grown over the object's edge.

A mask is painted on the photo as it is shown, so its own EXIF orientation is applied (as the
photo's is) before the sizes are compared; any image format Pillow reads will do. A pixel is to
be removed where the mask's alpha is above 127 when it has an alpha channel that is not opaque everywhere
(strokes painted on a transparent layer), else where its grey level is above 127 (white on black: an opaque
canvas export included).

Growing the hole by a few pixels covers the soft edge, halo or shadow a hand-painted mask leaves
behind; growth is a square dilation done by doubling, so a large radius costs a handful of array
passes, not one per pixel of radius.

The inpainter does not start from a black hole: ``navier_stokes_fill`` first fills it classically,
and the network corrects that fill (``lumaflow.build.arch.inpaint``).
"""

from __future__ import annotations

import io

import numpy as np
from PIL import ExifTags, Image, ImageOps

from lumaflow import contract
from lumaflow.runtime.errors import InvalidInput
from lumaflow.runtime.imaging import DECODE_ERRORS


def decode_mask(data: bytes, width: int, height: int, input_name: str = contract.MASK.name) -> np.ndarray:
    """bool HxW, True where the mask is white (or opaque); InvalidInput when unreadable or of another size.

    REGION (``lumaflow.runtime.guidance``) is read the same way: ``input_name`` names it in the messages."""
    if not data:
        raise InvalidInput(contract.INVALID_IMAGE, f"The {input_name} input is empty.")
    try:
        with Image.open(io.BytesIO(data)) as opened:
            # The declared size first: orientation can only swap its sides, and transposing decodes every
            # pixel, which a small file declaring 30000x30000 makes gigabytes.
            if sorted(opened.size) != sorted((width, height)):
                raise _mismatch(_upright_size(opened), width, height, input_name)
            image = ImageOps.exif_transpose(opened)
            if image.size != (width, height):
                raise _mismatch(image.size, width, height, input_name)
            has_alpha = "A" in image.getbands() or (image.mode == "P" and "transparency" in image.info)
            values = np.asarray(image.convert("RGBA").getchannel("A")) if has_alpha else None
            # An alpha channel that is opaque everywhere says nothing (a browser canvas exports one): read the grey.
            if values is None or values.min() == 255:
                values = np.asarray(image.convert("L"))
    except DECODE_ERRORS:  # UnidentifiedImageError is an OSError
        raise InvalidInput(
            contract.INVALID_IMAGE, f"The {input_name} input is not a readable image (send a PNG)."
        ) from None
    return values > 127


def _upright_size(opened: Image.Image) -> tuple[int, int]:
    """The size as shown, from the header alone (a PNG's EXIF after its pixels is not read: taken as upright)."""
    if opened.format == "PNG" and "exif" not in opened.info:
        return opened.size  # PngImageFile.getexif() would decode the pixels to look for a late eXIf chunk
    orientation = opened.getexif().get(ExifTags.Base.Orientation, 1)
    return opened.size[::-1] if orientation in (5, 6, 7, 8) else opened.size


def _mismatch(size: tuple[int, int], width: int, height: int, input_name: str) -> InvalidInput:
    return InvalidInput(
        contract.MASK_MISMATCH,
        f"The {input_name} image is {size[0]}x{size[1]} (upright); it must be the photo's upright size,"
        f" {width}x{height}.",
    )


def _dilate_axis(mask: np.ndarray, radius: int, axis: int) -> np.ndarray:
    """Max over a window of ±``radius`` along ``axis``: each pass doubles the reach (plus one)."""
    reach, current = 0, mask
    while reach < radius:
        shift = min(reach + 1, radius - reach, current.shape[axis] - 1)
        if shift < 1:
            break
        lead, lag = [slice(None)] * 2, [slice(None)] * 2
        lead[axis], lag[axis] = slice(shift, None), slice(None, -shift)
        widened = current.copy()
        widened[tuple(lag)] |= current[tuple(lead)]
        widened[tuple(lead)] |= current[tuple(lag)]
        current, reach = widened, reach + shift
    return current


def grow(mask: np.ndarray, radius: int) -> np.ndarray:
    """Square dilation of a bool HxW mask by ``radius`` pixels (worked inside its bounding box plus the radius)."""
    if radius <= 0 or not mask.any():
        return mask
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    top, bottom = max(0, rows[0] - radius), min(mask.shape[0], rows[-1] + radius + 1)
    left, right = max(0, cols[0] - radius), min(mask.shape[1], cols[-1] + radius + 1)
    out = mask.copy()
    out[top:bottom, left:right] = _dilate_axis(_dilate_axis(mask[top:bottom, left:right], radius, 0), radius, 1)
    return out


NAVIER_STOKES_RADIUS = 5  # OpenCV's neighbourhood, as the Navier-Stokes baseline of docs/quality.md is measured


def navier_stokes_fill(pixels: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """uint8 HxWx3 with the ``hole`` (HxW, non-zero = fill) filled by OpenCV's Navier-Stokes inpainting.

    The inpainter's starting point: it carries the edges around the hole into it along their
    isophotes, where an isotropic fill (push-pull, the first design) blurs them across a long stroke.
    """
    import cv2  # opencv-python-headless, in the server extra

    if not hole.any():
        return pixels
    return np.asarray(
        cv2.inpaint(np.ascontiguousarray(pixels), (hole > 0).astype(np.uint8), NAVIER_STOKES_RADIUS, cv2.INPAINT_NS)
    )

"""EXIF that travels from the input file to the result: kept, minus what would now be wrong or leak.

Orientation is dropped because decode already turned the pixels upright (a kept tag would rotate
them twice in a viewer); the GPS block is dropped unless the client asks (OPTIONS ``keep_gps``),
because a server should not republish where a photo was taken by default.
"""

from __future__ import annotations

import struct

from PIL import Image

ORIENTATION = 0x0112
GPS_IFD = 0x8825


def output_exif(image: Image.Image, *, keep_gps: bool) -> tuple[bytes, dict[str, object]]:
    """The EXIF block for the result (empty when the input had none) and what INFO says of it."""
    try:
        source = image.getexif()
        if not source:
            return b"", {}
        exif = Image.Exif()  # a copy: the image's own EXIF still has to orient its pixels
        exif.load(source.tobytes())
    except (OSError, ValueError, SyntaxError, struct.error):
        return b"", {"exif": "unreadable, dropped"}
    had_gps = GPS_IFD in exif
    exif.pop(ORIENTATION, None)
    if had_gps and not keep_gps:
        exif.pop(GPS_IFD, None)
    summary: dict[str, object] = {"exif": "kept", "gps": ("kept" if keep_gps else "removed") if had_gps else "none"}
    return exif.tobytes(), summary

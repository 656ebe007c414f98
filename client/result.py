"""What a photo pipeline returns: the encoded result, INFO, and the call's own timing."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image


@dataclass(frozen=True)
class EnhanceResult:
    """``data``: the encoded image (PNG unless OPTIONS asked otherwise); ``info``: the INFO JSON."""

    data: bytes
    info: dict[str, Any]
    seconds: float  # wall time of the call as the client saw it, retries included
    endpoint: str = ""
    attempts: int = 1
    _image: list[Image.Image] = field(default_factory=list, repr=False, compare=False)

    @property
    def image(self) -> Image.Image:
        """The result decoded with Pillow (decoded once, on first use)."""
        if not self._image:
            decoded = Image.open(io.BytesIO(self.data))
            decoded.load()
            self._image.append(decoded)
        return self._image[0]

    @property
    def timings_ms(self) -> dict[str, float]:
        """Per-stage wall time on the server (INFO ``timings_ms``)."""
        return dict(self.info.get("timings_ms", {}))

    @property
    def format(self) -> str:
        return str(self.info.get("output", {}).get("format", ""))

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the encoded bytes as they came (no re-encoding)."""
        destination = Path(path)
        destination.write_bytes(self.data)
        return destination

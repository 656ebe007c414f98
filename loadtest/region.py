"""``lumaflow loadtest region``: what a brushed REGION saves on a big photo, against the whole photo, in one run.

One photo (``--photo``, cropped at its centre to ``--megapixels`` at its own aspect) is sent alternately
whole and with a REGION: a disc at the photo's centre covering ``--coverage`` of it, as a brush would
paint. Requests go one at a time (nothing else in flight), whole and region interleaved so that a change
of machine load hits both; the report gives each one's median, min and max seconds, their ratio, the
tiles INFO says were sent and left out, and the machine. Speed is measured here, never asserted in tests.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from lumaflow.client import LumaflowClient
from lumaflow.loadtest.report import machine

DEFAULT_PHOTO = Path("/usr/share/wallpapers/Altai/contents/images/5120x2880.png")  # plasma-workspace-wallpapers


def centre_crop(photo: np.ndarray, megapixels: float) -> np.ndarray:
    """The photo's centre at ``megapixels`` and its own aspect (the whole photo when it is smaller)."""
    height, width = photo.shape[:2]
    factor = min(1.0, (megapixels * 1e6 / (height * width)) ** 0.5)
    h, w = int(height * factor) // 8 * 8, int(width * factor) // 8 * 8
    top, left = (height - h) // 2, (width - w) // 2
    return np.ascontiguousarray(photo[top : top + h, left : left + w])


def centre_disc(height: int, width: int, coverage: float) -> np.ndarray:
    """uint8 HxW, 255 inside a centred disc covering ``coverage`` of the photo."""
    radius = (coverage * height * width / np.pi) ** 0.5
    rows, cols = np.ogrid[:height, :width]
    inside = (rows - height / 2) ** 2 + (cols - width / 2) ** 2 <= radius**2
    return inside.astype(np.uint8) * 255


@dataclass
class RegionReport:
    pipeline: str
    width: int
    height: int
    coverage: float
    options: dict[str, Any]
    seconds: dict[str, list[float]] = field(default_factory=dict)  # "whole" / "region" -> each request
    tiles: dict[str, Any] = field(default_factory=dict)  # INFO's tiles of the last request of each
    machine: dict[str, Any] = field(default_factory=machine)

    @property
    def ratio(self) -> float:
        return statistics.median(self.seconds["region"]) / statistics.median(self.seconds["whole"])

    def table(self) -> str:
        lines = [
            f"{self.pipeline}, {self.width}x{self.height} ({self.width * self.height / 1e6:.1f} MP), region"
            f" {self.coverage:.0%} of the photo, OPTIONS {json.dumps(self.options)}",
            "",
            "| request | median s | min s | max s | tiles sent / left out |",
            "| --- | --- | --- | --- | --- |",
        ]
        for name, values in self.seconds.items():
            tiles = ", ".join(f"{stage} {t['sent']}/{t['left_out']}" for stage, t in self.tiles[name].items())
            lines.append(
                f"| {name} | {statistics.median(values):.2f} | {min(values):.2f} | {max(values):.2f} | {tiles} |"
            )
        lines += ["", f"region / whole (medians): **{self.ratio:.3f}**"]
        return "\n".join(lines)


def run(
    url: str,
    pipeline: str,
    out: Path,
    *,
    photo: Path = DEFAULT_PHOTO,
    megapixels: float = 12.0,
    coverage: float = 0.05,
    repeats: int = 3,
    options: dict[str, Any] | None = None,
    timeout_s: float = 600.0,
) -> RegionReport:
    """Send the photo whole and with the region ``repeats`` times each, interleaved; write report.json and .md."""
    with Image.open(photo) as opened:
        pixels = centre_crop(np.asarray(opened.convert("RGB")), megapixels)
    height, width = pixels.shape[:2]
    region = centre_disc(height, width, coverage)
    options = dict(options or {})
    report = RegionReport(pipeline, width, height, float((region > 127).mean()), options)
    report.seconds = {"whole": [], "region": []}
    with LumaflowClient(url, timeout=timeout_s) as client:
        for _ in range(repeats):
            for name, given in (("whole", None), ("region", region)):
                started = time.perf_counter()
                result = client.enhance(pixels, pipeline, region=given, **options)
                report.seconds[name].append(time.perf_counter() - started)
                report.tiles[name] = result.info.get("tiles", {})
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps({**asdict(report), "ratio": report.ratio}, indent=2) + "\n")
    (out / "report.md").write_text(report.table() + "\n")
    return report

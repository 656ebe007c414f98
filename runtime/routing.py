"""The router's decision (photo_enhance, old_photo): which stages one photo goes through, and why.

A pure function of the analysis network's reading of the photo and the request's OPTIONS, so it
is tested without a server and INFO can say why each stage ran. Thresholds are where the
measured stages start to help: ``deblock`` is trained on JPEG quality 10-60 and gains less above
(docs/quality.md), FFDNet below σ 4 mostly smooths texture, and ``low_light`` was trained to lift -1 to -4 EV; the
analysis reads a well-exposed photo at up to -1.0 EV (astronaut, held out), hence -1.2.

Damage repair comes first (old_photo only: its OPTIONS have ``repair``): a scratch left in the photo
would be smoothed into it by the denoiser and enlarged by SR. Colourisation comes after restoration
(its chroma is predicted from clean luma) and before low light and SR.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from lumaflow.runtime.crops import tone as photo_tone
from lumaflow.runtime.jpeg_quality import told_quality
from lumaflow.runtime.mask import grow

JPEG_RESTORE_AT_OR_BELOW = 70.0
NOISE_RESTORE_FROM = 4.0
DARK_AT_OR_BELOW_EV = -1.2

# The damage network's map is probability x 255: a pixel is damage from p 0.5. The mask is not grown: the network
# already marks a scratch's soft edge, and on 8 damaged real photos (docs/quality.md) growing it by 1 or 2 px made
# old_photo's result 0.9 and 1.9 dB worse (the inpainter invents more than it repairs).
DAMAGE_THRESHOLD = 128
DAMAGE_GROW_PX = 0
# Above this share of the photo a "damage" map is more likely the network misreading the photo (a texture it
# was never shown) than damage, and filling it would invent most of the picture: the photo is left as it was.
MAX_DAMAGE_COVERAGE = 0.35


@dataclass(frozen=True)
class Step:
    role: str  # repair (damage + inpaint), or a key of the router's routes: denoise, dejpeg, colorize, low_light, ...
    reason: str
    noise_level: float | None = None  # the denoiser's σ
    jpeg_quality: float | None = None  # the de-JPEG network's quality


def plan_route(
    analysis: dict[str, float], options: dict[str, Any], file_jpeg_quality: float | None = None
) -> list[Step]:
    """The steps, in order: damage repair, restore, colourisation, low light, SR, refinement.

    ``file_jpeg_quality`` is the quality read from a JPEG's own tables: the de-JPEG step is told it, and the
    analysis network's estimate only when the photo came without tables."""
    steps = []
    repair = options.get("repair", "off")  # photo_enhance has no such option: it repairs nothing
    if repair != "off":
        steps.append(Step("repair", f"OPTIONS.repair {repair}"))
    restore, reason = options["restore"], "OPTIONS.restore"
    sigma = options.get("noise_level")
    if restore == "auto":
        quality, noise = analysis["jpeg_quality"], analysis["noise_sigma"]
        if sigma is not None:
            restore, reason = "denoise", "OPTIONS.noise_level was given"
        elif quality <= JPEG_RESTORE_AT_OR_BELOW:
            restore, reason = (
                "dejpeg",
                f"the analysis reads JPEG quality {quality:.0f} (<= {JPEG_RESTORE_AT_OR_BELOW:.0f})",
            )
        elif noise >= NOISE_RESTORE_FROM:
            restore, reason = "denoise", f"the analysis reads noise σ {noise:.1f} (>= {NOISE_RESTORE_FROM:g})"
        else:
            restore = "none"
    if restore == "denoise":
        level = float(sigma) if sigma is not None else analysis["noise_sigma"]
        steps.append(Step("denoise", reason, noise_level=level))
    elif restore == "dejpeg":
        told = file_jpeg_quality if file_jpeg_quality is not None else analysis["jpeg_quality"]
        steps.append(Step("dejpeg", reason, jpeg_quality=told_quality(told)))
    colorize = options.get("colorize", "off")
    tone = photo_tone(analysis)
    if colorize == "on":
        steps.append(Step("colorize", "OPTIONS.colorize"))
    elif colorize == "auto" and tone != "colour":
        steps.append(Step("colorize", f"the analysis reads the photo as {tone} (p {analysis[f'p_{tone}']:.2f})"))
    exposure = analysis["exposure_ev"]
    if options["low_light"] == "on":
        steps.append(Step("low_light", "OPTIONS.low_light"))
    elif options["low_light"] == "auto" and exposure <= DARK_AT_OR_BELOW_EV:
        steps.append(Step("low_light", f"the analysis reads exposure {exposure:+.1f} EV (<= {DARK_AT_OR_BELOW_EV:g})"))
    scale = int(options["scale"])
    if scale > 1:
        steps.append(Step(f"sr_x{scale}{'_fast' if options['fast'] else ''}", f"OPTIONS.scale {scale}"))
    if options["refine"]:
        steps.append(Step("refine", "OPTIONS.refine"))
    return steps


def damage_hole(damage: np.ndarray) -> tuple[np.ndarray | None, dict[str, Any]]:
    """The damage network's HxW map -> the inpainter's HOLE (uint8 HxW, 1 = fill; None: nothing to fill) and
    the figures INFO reports: how much of the photo it covers, and whether it was filled."""
    hole = grow(damage >= DAMAGE_THRESHOLD, DAMAGE_GROW_PX)
    coverage = float(hole.mean())
    figures: dict[str, Any] = {
        "coverage": round(coverage, 5),
        "threshold": round(DAMAGE_THRESHOLD / 255, 3),
        "grown_px": DAMAGE_GROW_PX,
        "filled": False,
    }
    if not hole.any():
        return None, figures
    if coverage > MAX_DAMAGE_COVERAGE:
        figures["skipped"] = f"the map covers more than {MAX_DAMAGE_COVERAGE:.0%} of the photo"
        return None, figures
    figures["filled"] = True
    return hole.astype(np.uint8), figures

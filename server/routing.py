"""photo_enhance's routing decision: which stages one photo goes through, and why.

A pure function of the analysis network's reading of the photo and the request's OPTIONS, so it
is tested without a server and INFO can say why each stage ran. Thresholds are where the
measured stages start to help: ``deblock`` is trained on JPEG quality 10-60 and gains less above
(docs/quality.md), FFDNet below σ 4 mostly smooths texture, and ``low_light`` was trained to lift -1 to -4 EV; the
analysis reads a well-exposed photo at up to -1.0 EV (astronaut, held out), hence -1.2.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

JPEG_RESTORE_AT_OR_BELOW = 70.0
NOISE_RESTORE_FROM = 4.0
DARK_AT_OR_BELOW_EV = -1.2


@dataclass(frozen=True)
class Step:
    role: str  # a key of the router's routes: denoise, dejpeg, low_light, sr_x2, sr_x4(_fast), refine
    reason: str
    noise_level: float | None = None  # the denoiser's σ


def plan_route(analysis: dict[str, float], options: dict[str, Any]) -> list[Step]:
    """The steps, in order: restore, low light, SR, refinement."""
    steps = []
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
        steps.append(Step("dejpeg", reason))
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

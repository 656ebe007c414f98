"""Which σ ``denoise`` tells FFDNet when OPTIONS ``noise_map`` is auto: the analysis network's, or the noise-map
estimator's.

The analysis network was trained on white Gaussian noise. Camera noise (correlated by demosaicking, nearly level
with brightness after the sRGB curve) reads low to it: σ 1.6-5.9 where FFDNet does best told 8-24, 1.5-3.1 dB lost
(docs/quality.md, "Noise maps for FFDNet"). The estimator (``noise_map``) was trained through FFDNet on the level
that makes FFDNet best, so it reads camera noise where FFDNet wants it; on white noise the analysis network is the
better reader, and on a clean photo the estimator reads texture as noise (σ 3.5-21 on the validation photos, which
would cost FFDNet 13 dB on average there) where the analysis network reads 0-1.4. The rule between them, chosen on the
validation photos (docs/quality.md): the estimator's level when the analysis network sees noise (σ at least
``NOISE_SEEN_FROM``) and the estimator reads at least ``ESTIMATE_OVER_ANALYSIS`` times as much in three quarters of
the crops (``GATE_QUANTILE``: noise of a kind the analysis network reads low, and in most of the photo, not only where
it is busy), else the analysis network's. It was chosen to bound how many photos lose, not only the mean: a rule
that rescues a few misread photos can hide many that it costs.

Each of the photo's grid crops (`lumaflow.runtime.crops`, the analysis network's) gets one level from the
estimator: their median is the photo's level, and their range is the map's range INFO reports. FFDNet is told one σ:
on validation the estimator's map, fed as a map, lost to its own mean (its variation over a photo is mostly
estimation error), so a map is not fed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

ESTIMATE_OVER_ANALYSIS = 2.0
NOISE_SEEN_FROM = 2.0
# Which quantile of the crops' levels must reach ``ESTIMATE_OVER_ANALYSIS`` times the analysis σ: the median, as the
# level told; a lower one asks the noise to show in most crops, flat ones too, where texture does not.
GATE_QUANTILE = 0.25


@dataclass(frozen=True)
class NoiseMapReading:
    """The estimator's reading of one photo and whether ``denoise`` uses it."""

    level: float  # the median of the crops' levels: the σ FFDNet is told when used
    low: float  # the map's range over the photo's crops
    high: float
    analysis_sigma: float
    used: bool
    gate: float  # the crops' levels at ``GATE_QUANTILE``: what must reach the ratio

    @property
    def sigma(self) -> float:
        """The σ FFDNet is told."""
        return self.level if self.used else self.analysis_sigma

    @property
    def reason(self) -> str:
        """Why the estimator's level is told, or not."""
        told = (
            f"it reads {self.level:.1f} ({self.gate:.1f} at its crops' {GATE_QUANTILE:g} quantile), "
            f"the analysis network {self.analysis_sigma:.1f}"
        )
        if self.analysis_sigma < NOISE_SEEN_FROM:
            return f"{told}: under {NOISE_SEEN_FROM:g} the photo reads as clean, and the analysis network's σ is told"
        if not self.used:
            return f"{told}: under {ESTIMATE_OVER_ANALYSIS:g}x, so the analysis network's σ is told"
        return f"{told}: at least {ESTIMATE_OVER_ANALYSIS:g}x, noise the analysis network reads low (camera noise)"

    def figures(self) -> dict[str, Any]:
        """What INFO says about the map."""
        return {
            "used": self.used,
            "level": round(self.level, 2),
            "range": [round(self.low, 2), round(self.high, 2)],
            "reason": self.reason,
        }


def asks_estimator(options: Mapping[str, Any]) -> bool:
    """Whether a request's σ may come from the estimator: OPTIONS ``noise_map`` auto and no ``noise_level`` given."""
    return options.get("noise_level") is None and options.get("noise_map") == "auto"


def read_noise_map(
    analysis_sigma: float,
    crop_levels: np.ndarray,
    *,
    seen: float = NOISE_SEEN_FROM,
    ratio: float = ESTIMATE_OVER_ANALYSIS,
    quantile: float = GATE_QUANTILE,
) -> NoiseMapReading:
    """The reading from the estimator's per-crop levels ([crops] or [crops, 1]) and the analysis network's σ.

    ``seen``, ``ratio`` and ``quantile`` are the rule's: the served ones by default; `lumaflow.build.noise_map_gates`
    sweeps others on the validation photos to choose them."""
    levels = np.asarray(crop_levels, dtype=np.float64).reshape(-1)
    if levels.size == 0:
        raise ValueError("the noise-map estimator gave no levels")
    level = float(np.median(levels))
    gate = float(np.quantile(levels, quantile))
    used = analysis_sigma >= seen and gate >= ratio * analysis_sigma
    low, high = float(levels.min()), float(levels.max())
    return NoiseMapReading(level, low, high, float(analysis_sigma), used, gate)

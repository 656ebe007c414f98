"""Per-request tensors that decode computes for a pipeline's stages besides the pixels.

Each provider turns the decoded pixels and the request's OPTIONS into one stage input and the
figures INFO reports about it (under ``analysis``). Until the analysis network exists, a noise
level the client did not give is estimated classically.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from lumaflow.ensemble import contract
from lumaflow.server.noise import estimate_noise_sigma

Provider = Callable[[np.ndarray, dict[str, Any]], tuple[np.ndarray, dict[str, Any]]]


def noise_level(pixels: np.ndarray, options: dict[str, Any]) -> tuple[np.ndarray, dict[str, Any]]:
    """σ from OPTIONS ``noise_level`` when given, else estimated from the pixels."""
    sigma = options.get("noise_level")
    source = "options"
    if sigma is None:
        sigma, source = estimate_noise_sigma(pixels), "estimated"
    value = np.array([[sigma]], dtype=np.float32)
    return value, {"noise_level": {"sigma": round(float(sigma), 2), "source": source}}


PROVIDERS: dict[str, Provider] = {contract.NOISE_LEVEL.name: noise_level}

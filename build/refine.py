"""The refinement recipe's data: it learns to correct the outputs of the served SR stages.

Its training pairs are (stage output, original) for each photo through each source stage, from the same
weights the served graphs are built from; its evaluation is the same on bicubic-downscaled held-out photos.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from lumaflow.build.eval import Suite, downscale, evaluate_restoration, upscale
from lumaflow.build.registry import ModelDescriptor
from lumaflow.build.sr_data import Pair, make_pairs

# The stages whose outputs the refinement learns to correct: (stage name, scale).
REFINE_SOURCES: tuple[tuple[str, int], ...] = (("span_x2", 2), ("span_x4", 4))


def stage_model(stage_name: str) -> torch.nn.Module:
    """The torch model of a declared stage, from the same weights the served graph is built from."""
    from lumaflow.build.repository import Artifact, load_network
    from lumaflow.ensemble.stages import STAGES

    stage = STAGES[stage_name]
    assert stage.network is not None
    artifact = Artifact(stage, stage.network, Path("."))
    return load_network(stage.network, artifact.weights_path()).model


def refine_pairs(images: list[np.ndarray], scales: tuple[float, ...], factor: int) -> list[Pair]:
    """(stage output, original) pairs: each photo at each scale through each source stage."""
    pairs = []
    for stage_name, scale in REFINE_SOURCES:
        model = stage_model(stage_name)
        for pair in make_pairs(images, scales, scale):
            pairs.append(Pair(hr=pair.hr, lr=upscale(model, pair.lr)))
    return pairs


def evaluate_refine(descriptor: ModelDescriptor) -> Suite:
    conditions = {}
    for stage_name, scale in REFINE_SOURCES:
        model = stage_model(stage_name)

        def through(image: np.ndarray, _seed: int, model: torch.nn.Module = model, scale: int = scale) -> np.ndarray:
            return upscale(model, downscale(image, scale))

        conditions[stage_name] = through
    return evaluate_restoration(
        descriptor, conditions, luma=True, what="the stage's output on a bicubic-downscaled photo", multiple=4
    )

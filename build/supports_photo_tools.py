"""The registry's readings of our photo-tool networks: the assessors (analysis, quality score), the inpainter,
the colouriser, the damage masks, the looks and the noise-map estimator.

The colouriser, damage, looks and noise-map modules read their own hyper-parameters back (``*_hyperparameters`` in
``build/arch/``); the assessors and the inpainter are checked against a model built from the widths they show.
"""

from __future__ import annotations

import re
from functools import partial

from torch import nn

from lumaflow.build.arch.assessor import Assessor, PhotoAssessor
from lumaflow.build.arch.colorize import Colorizer, colorizer_hyperparameters
from lumaflow.build.arch.damage import DamageNet, damage_hyperparameters
from lumaflow.build.arch.inpaint import DILATIONS, GatedInpainter
from lumaflow.build.arch.lut import LookNet, looknet_hyperparameters
from lumaflow.build.arch.noise_map import NoiseMapEstimator, noise_map_hyperparameters
from lumaflow.build.arch_support import Hyperparameters, ShapeReading, StateDict


def _same_keys_and_shapes(state: StateDict, model: nn.Module) -> bool:
    """Whether ``state`` has exactly ``model``'s keys, each with its shape."""
    expected = model.state_dict()
    return set(state) == set(expected) and all(tuple(v.shape) == tuple(expected[k].shape) for k, v in state.items())


def _three_widths(hp: Hyperparameters) -> tuple[int, int, int]:
    return hp["width0"], hp["width1"], hp["width2"]


# --- Assessor (analysis, quality score) ------------------------------------------------------------

_ASSESSOR_DOWN = re.compile(r"down\.(\d+)\.weight")


def _assessor_widths(state: StateDict, prefix: str = "") -> tuple[int, ...]:
    """An assessor's convolution widths (stem, then each stride-2 stage), read under ``prefix``; () if none."""
    stages = sum(1 for k in state if k.startswith(prefix) and _ASSESSOR_DOWN.fullmatch(k.removeprefix(prefix)))
    if stages < 1 or f"{prefix}stem.0.weight" not in state:
        return ()
    names = ("stem.0", *(f"down.{i}" for i in range(stages)))
    return tuple(int(state[f"{prefix}{name}.weight"].shape[0]) for name in names)


# The crop network (analysis), and the photo network (quality score) that keeps the crop network's
# convolutions under ``crops.`` and adds its own head: one reader for both, by class and key prefix.
AssessorKind = type[Assessor] | type[PhotoAssessor]
ASSESSOR_PREFIX: dict[AssessorKind, str] = {Assessor: "", PhotoAssessor: "crops."}


def _assessor_hyperparameters(state: StateDict, kind: AssessorKind) -> Hyperparameters | None:
    widths = _assessor_widths(state, ASSESSOR_PREFIX[kind])
    if not widths or "out.weight" not in state:
        return None
    if not _same_keys_and_shapes(state, kind(outputs=int(state["out.weight"].shape[0]), widths=widths)):
        return None
    hp = {"scale": 1, "in_channels": 3, "out_channels": int(state["out.weight"].shape[0]), "stages": len(widths) - 1}
    hp.update({f"width{i}": w for i, w in enumerate(widths)})
    return hp


def _assessor(hp: Hyperparameters, kind: AssessorKind) -> nn.Module:
    widths = tuple(hp[f"width{i}"] for i in range(hp["stages"] + 1))
    return kind(outputs=hp["out_channels"], widths=widths)


def _assessor_reading(kind: AssessorKind) -> ShapeReading:
    return ShapeReading(
        kind.__name__,
        partial(_assessor_hyperparameters, kind=kind),
        partial(_assessor, kind=kind),
        marker=f"{ASSESSOR_PREFIX[kind]}stem.0.weight",
    )


# --- GatedInpainter (object removal) ----------------------------------------------------------------


def _inpainter_hyperparameters(state: StateDict) -> Hyperparameters | None:
    if "enc0.conv.weight" not in state or "enc1.conv.weight" not in state or "enc2.conv.weight" not in state:
        return None
    widths = tuple(int(state[f"{name}.conv.weight"].shape[0]) // 2 for name in ("enc0", "enc1", "enc2"))
    if not _same_keys_and_shapes(state, GatedInpainter(widths=widths)):  # type: ignore[arg-type]
        return None
    return {
        "scale": 1,
        "in_channels": 3,
        "out_channels": 3,
        "width0": widths[0],
        "width1": widths[1],
        "width2": widths[2],
    }


def _inpainter(hp: Hyperparameters) -> nn.Module:
    return GatedInpainter(widths=_three_widths(hp))


def _inpainter_figures(_model: nn.Module) -> dict[str, int]:
    return {"dilations": len(DILATIONS)}


# --- Colorizer, DamageNet, LookNet, NoiseMapEstimator: their modules read their hyper-parameters ----------------


def _colorizer(hp: Hyperparameters) -> nn.Module:
    return Colorizer(widths=_three_widths(hp))


def _damage(hp: Hyperparameters) -> nn.Module:
    return DamageNet(widths=_three_widths(hp))


def _noise_map(hp: Hyperparameters) -> nn.Module:
    return NoiseMapEstimator(features=hp["features"])


def _looknet(hp: Hyperparameters) -> nn.Module:
    return LookNet(templates=hp["templates"], basis=hp["basis"], size=hp["size"], width=hp["width"])


ASSESSORS: tuple[ShapeReading, ...] = tuple(_assessor_reading(kind) for kind in (Assessor, PhotoAssessor))
PHOTO_TOOLS: tuple[ShapeReading, ...] = (
    ShapeReading("GatedInpainter", _inpainter_hyperparameters, _inpainter, figures=_inpainter_figures),
    ShapeReading("Colorizer", colorizer_hyperparameters, _colorizer),
    ShapeReading("LookNet", looknet_hyperparameters, _looknet),
    ShapeReading("DamageNet", damage_hyperparameters, _damage),
    ShapeReading("NoiseMapEstimator", noise_map_hyperparameters, _noise_map),
)

"""Explicit architecture registry (spandrel style): a state dict in, a ready model descriptor out.

Each architecture says how to recognise its own state dict and how to rebuild itself from it, so
weight files stay plain state dicts with no pickled classes or side-car config to drift.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import torch
from torch import nn

from lumaflow.build.arch.espcn import ESPCN

StateDict = Mapping[str, torch.Tensor]


@dataclass(frozen=True)
class ModelDescriptor:
    """A loaded model (eval mode, weights in) and what a caller must know to feed it."""

    architecture: str
    model: nn.Module
    scale: int
    in_channels: int
    out_channels: int
    size_multiple: int  # input H and W must be multiples of this
    supports_half: bool
    hyperparameters: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ArchSupport:
    """How to recognise (`detect`) and rebuild (`load`) one architecture from its state dict."""

    name: str
    detect: Callable[[StateDict], bool]
    load: Callable[[StateDict], ModelDescriptor]


# --- ESPCN -------------------------------------------------------------------------------------

_ESPCN_BODY = re.compile(r"body\.(\d+)\.weight")


def _espcn_num_body(state: StateDict) -> int:
    return sum(1 for k in state if _ESPCN_BODY.fullmatch(k))


def _espcn_expected_keys(num_body: int) -> set[str]:
    keys = {"head.weight", "head.bias", "act_head.weight", "tail.weight", "tail.bias"}
    for i in range(num_body):
        keys |= {f"body.{i}.weight", f"body.{i}.bias", f"act_body.{i}.weight"}
    return keys


def _espcn_hyperparameters(state: StateDict) -> dict[str, int]:
    head, tail = state["head.weight"], state["tail.weight"]
    channels = int(head.shape[1])
    scale = math.isqrt(int(tail.shape[0]) // channels)
    return {
        "scale": scale,
        "in_channels": channels,
        "out_channels": channels,
        "features": int(head.shape[0]),
        "mid_features": int(tail.shape[1]),
        "num_body": _espcn_num_body(state),
    }


def _detect_espcn(state: StateDict) -> bool:
    num_body = _espcn_num_body(state)
    if num_body < 1 or set(state) != _espcn_expected_keys(num_body):
        return False
    head, tail = state["head.weight"], state["tail.weight"]
    if head.dim() != 4 or tuple(head.shape[2:]) != (5, 5) or tail.dim() != 4:
        return False
    channels, out = int(head.shape[1]), int(tail.shape[0])
    scale = math.isqrt(out // channels) if out % channels == 0 else 0
    return scale >= 1 and channels * scale * scale == out


def _load_espcn(state: StateDict) -> ModelDescriptor:
    hp = _espcn_hyperparameters(state)
    model = ESPCN(**hp)
    model.load_state_dict(state, strict=True)
    model.eval()
    return ModelDescriptor(
        architecture="ESPCN",
        model=model,
        scale=hp["scale"],
        in_channels=hp["in_channels"],
        out_channels=hp["out_channels"],
        size_multiple=1,
        supports_half=True,
        hyperparameters=MappingProxyType(hp),
    )


# --- registry ----------------------------------------------------------------------------------


def _build_registry(entries: Iterable[ArchSupport]) -> Mapping[str, ArchSupport]:
    registry: dict[str, ArchSupport] = {}
    for entry in entries:
        if entry.name in registry:
            raise ValueError(f"duplicate architecture name in registry: {entry.name!r}")
        registry[entry.name] = entry
    return MappingProxyType(registry)


# Order matters: the first architecture whose `detect` accepts a state dict wins.
REGISTRY: Mapping[str, ArchSupport] = _build_registry(
    [
        ArchSupport(name="ESPCN", detect=_detect_espcn, load=_load_espcn),
    ]
)


def load_state_dict(state_dict: StateDict) -> ModelDescriptor:
    """Find the architecture that `state_dict` belongs to and return it loaded, in eval mode."""
    for support in REGISTRY.values():
        if support.detect(state_dict):
            return support.load(state_dict)
    keys = sorted(state_dict)
    shown = ", ".join(keys[:12]) + (f", ... ({len(keys)} keys)" if len(keys) > 12 else "")
    raise ValueError(f"unknown architecture: no entry of {list(REGISTRY)} matches a state dict with keys [{shown}]")


def load_file(path: str) -> ModelDescriptor:
    """`load_state_dict` on a `torch.save`d state dict, read without unpickling arbitrary objects."""
    return load_state_dict(torch.load(path, map_location="cpu", weights_only=True))

"""Explicit architecture registry (spandrel style): a state dict in, a ready model descriptor out.

Each architecture says how to recognise its own state dict and how to rebuild itself from it, so
weight files stay plain state dicts with no pickled classes or side-car config to drift. This module is
the registry's entry point: the ordered list (`REGISTRY`) and the lookup (`load_state_dict`, `load_file`).
What an entry is lives in `lumaflow.build.arch_support`; the entries themselves in
`lumaflow.build.supports_restorers` and `lumaflow.build.supports_photo_tools`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

import torch

from lumaflow.build.arch_support import ArchSupport, ModelDescriptor, StateDict
from lumaflow.build.supports_photo_tools import ASSESSORS, PHOTO_TOOLS
from lumaflow.build.supports_restorers import RESTORERS

__all__ = ["REGISTRY", "ArchSupport", "ModelDescriptor", "StateDict", "load_file", "load_state_dict"]


def _build_registry(entries: Iterable[ArchSupport]) -> Mapping[str, ArchSupport]:
    registry: dict[str, ArchSupport] = {}
    for entry in entries:
        if entry.name in registry:
            raise ValueError(f"duplicate architecture name in registry: {entry.name!r}")
        registry[entry.name] = entry
    return MappingProxyType(registry)


# Order matters: the first architecture whose `detect` accepts a state dict wins. ESPCN, UpConv7, FFDNet, RRDBNet,
# SRMD, SPAN, ResidualRestorer; Assessor, PhotoAssessor; GatedInpainter, Colorizer, LookNet, DamageNet. (Every
# restorer reading wants its exact key set, so none accepts another's state dict: SPAN's ``block_*.c*_r`` are its own.)
REGISTRY: Mapping[str, ArchSupport] = _build_registry(
    reading.support() for reading in (*RESTORERS, *ASSESSORS, *PHOTO_TOOLS)
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

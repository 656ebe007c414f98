"""What the architecture registry is made of: a model descriptor, an architecture's support, one way to read it.

`ArchSupport` is spandrel's: a name, a `detect` and a `load`. `ShapeReading` is how each of ours fills them:
the architecture's hyper-parameters read back from its state dict's keys and shapes (None when the state dict
is not that architecture's), and a constructor from those hyper-parameters. The registry itself (the ordered
list and the lookup) is `lumaflow.build.registry`; the readings, one per architecture, are in
`lumaflow.build.supports_restorers` and `lumaflow.build.supports_photo_tools`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import torch
from torch import nn

StateDict = Mapping[str, torch.Tensor]
Hyperparameters = dict[str, int]


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


def _same(state: StateDict) -> StateDict:
    return state


def _one(_hp: Hyperparameters) -> int:
    return 1


def _nothing(_model: nn.Module) -> Mapping[str, int]:
    return {}


@dataclass(frozen=True)
class ShapeReading:
    """One architecture read back from its state dict: hyper-parameters from the shapes, then the model.

    ``hyperparameters`` returns None when the state dict is not this architecture's (its scale under
    ``"scale"``, its channels under ``"in_channels"`` / ``"out_channels"``); ``build`` makes the model from them.
    ``marker``: a key checked before the shapes are read, so other architectures' state dicts are turned down
    cheaply. ``prepare``: our key layout from another one (KAIR's FFDNet). ``size_multiple``: what input sides
    must be a multiple of. ``figures``: what the built model adds to the descriptor's hyper-parameters.
    """

    name: str
    hyperparameters: Callable[[StateDict], Hyperparameters | None]
    build: Callable[[Hyperparameters], nn.Module]
    marker: str | None = None
    prepare: Callable[[StateDict], StateDict] = _same
    size_multiple: Callable[[Hyperparameters], int] = _one
    figures: Callable[[nn.Module], Mapping[str, int]] = _nothing

    def detect(self, state: StateDict) -> bool:
        state = self.prepare(state)
        return (self.marker is None or self.marker in state) and self.hyperparameters(state) is not None

    def load(self, state: StateDict) -> ModelDescriptor:
        """Load ``state`` into the model its shapes describe, strictly, in eval mode, and describe it."""
        state = self.prepare(state)
        hp = self.hyperparameters(state)
        if hp is None:
            raise ValueError(f"not a {self.name} state dict")
        model = self.build(hp)
        model.load_state_dict(state, strict=True)
        model.eval()
        return ModelDescriptor(
            architecture=self.name,
            model=model,
            scale=hp["scale"],
            in_channels=hp["in_channels"],
            out_channels=hp["out_channels"],
            size_multiple=self.size_multiple(hp),
            supports_half=True,
            hyperparameters=MappingProxyType({**hp, **self.figures(model)}),
        )

    def support(self) -> ArchSupport:
        return ArchSupport(name=self.name, detect=self.detect, load=self.load)

"""Refitting one look (lumaflow.build.looks_refit): only that look's parameters move, every other look answers
bit for bit as before, and the look's own output does change toward its grading."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lumaflow.build.arch.lut import LookNet
from lumaflow.build.arch.lut_push import PUSH_OFF
from lumaflow.build.assess_data import to_tensor
from lumaflow.build.looks import looks_loss, resize_long_side
from lumaflow.build.looks_refit import OneLookSampler, owned_rows, refit
from lumaflow.ensemble.looks import TEMPLATE_NAMES

pytestmark = pytest.mark.unit

LOOK = TEMPLATE_NAMES.index("kodachrome_60s")


@pytest.fixture(scope="module")
def photos() -> list[np.ndarray]:
    from skimage import data

    return [resize_long_side(image, 96) for image in (data.astronaut(), data.coffee())]


def _model() -> LookNet:
    torch.manual_seed(0)
    model = LookNet(templates=len(TEMPLATE_NAMES), basis=2, size=5, width=4)
    with torch.no_grad():
        model.luts.add_(0.01 * torch.randn_like(model.luts))  # every look's LUTs differ from the start
    model.push_apart = PUSH_OFF
    return model


def _every_look(model: LookNet, photo: np.ndarray) -> torch.Tensor:
    model.eval()
    count = len(TEMPLATE_NAMES)
    with torch.no_grad():
        return model(to_tensor([photo] * count), torch.arange(count), torch.ones(count))


def test_the_sampler_puts_the_look_first_in_every_pair(photos: list[np.ndarray]) -> None:
    sampler = OneLookSampler(photos, 32, np.random.default_rng(0), LOOK)
    (_, templates, _), _ = sampler.batch(8)
    assert templates[0::2].tolist() == [LOOK] * 4
    assert set(templates[1::2].tolist()) - {LOOK}  # the second looks are others


def test_refit_moves_only_the_looks_own_parameters(photos: list[np.ndarray]) -> None:
    model = _model()
    before_state = {key: value.clone() for key, value in model.state_dict().items()}
    before = _every_look(model, photos[0])
    sampler = OneLookSampler(photos, 32, np.random.default_rng(0), LOOK)
    probe_inputs, probe_targets = OneLookSampler(photos, 32, np.random.default_rng(1), LOOK).batch(8)
    with torch.no_grad():
        loss_before = looks_loss(model.train()(*probe_inputs), probe_targets).item()

    refit(model, sampler, LOOK, steps=30, batch_size=8, lr=1e-2)

    after = _every_look(model, photos[0])
    others = [t for t in range(len(TEMPLATE_NAMES)) if t != LOOK]
    assert torch.equal(after[others], before[others])  # bit for bit
    assert (after[LOOK] - before[LOOK]).abs().max() > 1e-3
    owned = owned_rows(model, LOOK)
    for key, value in model.state_dict().items():
        changed = value != before_state[key]
        if key in owned:
            changed[owned[key]] = False
        assert not changed.any(), key
    assert not model.training
    assert all(p.requires_grad and not p._backward_hooks for p in model.parameters())  # the masks are gone
    with torch.no_grad():
        model.train()
        loss_after = looks_loss(model(*probe_inputs), probe_targets).item()
    assert loss_after < loss_before

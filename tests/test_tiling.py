"""The tile plan as pure functions: every pixel owned once, and exact for a local operator."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from lumaflow.ensemble.stages import STAGES
from lumaflow.runtime import tiling
from tests.fixtures import WIDE_NETWORKS, astronaut


@pytest.mark.unit
@pytest.mark.parametrize(("length", "tile", "context"), [(1000, 256, 16), (256, 256, 16), (300, 256, 32), (97, 256, 8)])
def test_cores_cover_each_pixel_once_and_windows_fit(length: int, tile: int, context: int) -> None:
    spans = tiling.spans(length, tile, context)
    padded = length + 2 * context + tiling.far_padding(length, context)
    assert padded % tiling.ALIGN == 0 and tiling.far_padding(length, context) < tiling.ALIGN
    owned = np.zeros(length, dtype=int)
    for span in spans:
        owned[span.core_start : span.core_end] += 1
        assert span.window_size == min(tile, padded)
        assert span.window_start >= 0 and span.window_start + span.window_size <= padded
        assert span.window_start % tiling.ALIGN == 0  # every tile on one grid, as the whole photo
        # full context on both sides of the core, inside the window
        assert span.window_start <= span.core_start
        assert span.core_end + 2 * context <= span.window_start + span.window_size
    assert (owned == 1).all()


@pytest.mark.unit
def test_a_tile_too_small_for_its_context_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot carry"):
        tiling.spans(1000, 32, 16)
    with pytest.raises(ValueError, match="grid"):
        tiling.spans(1000, 256, 12 + 1)  # a core of 230 px: its tiles would start off the 8 px grid


def upscale_local(pixels: np.ndarray) -> np.ndarray:
    """A stand-in network with a 9-pixel receptive field and x2 output: blur, then repeat."""
    blurred = ndimage.uniform_filter(pixels.astype(np.float32), size=(9, 9, 1), mode="reflect")
    return np.repeat(np.repeat(blurred, 2, axis=0), 2, axis=1)


@pytest.mark.unit
def test_tiled_equals_untiled_for_an_operator_inside_the_context() -> None:
    photo = astronaut()[:300, :450]
    context = 8
    padded = tiling.pad_for_context(photo, context)
    whole = upscale_local(padded)[2 * context : 2 * (context + 300), 2 * context : 2 * (context + 450)]
    out = np.zeros((600, 900, 3), dtype=np.float32)
    for tile in tiling.plan(300, 450, 128, context):
        tiling.place(out, upscale_local(tiling.window(padded, tile)), tile, context, 2)
    assert np.allclose(out, whole, atol=1e-3)


def receptive_radius(stage_name: str) -> float:
    """How far (input pixels) one input pixel's change reaches in the stage network's output."""
    import torch

    from lumaflow.build.repository import Artifact, load_network
    from lumaflow.ensemble.stages import STAGES

    stage = STAGES[stage_name]
    assert stage.network is not None
    path = Artifact(stage, stage.network, Path(".")).weights_path()
    model = load_network(stage.network, path).model.eval()
    side, centre = 96, 48
    pixels = torch.rand(1, 3, side, side, generator=torch.Generator().manual_seed(0))
    extra: tuple[torch.Tensor, ...] = ()
    if stage_name == "ffdnet":
        extra = (torch.full((1, 1, 1, 1), 25 / 255),)
    elif stage_name == "deblock":  # told the JPEG quality
        extra = (torch.full((1, 1), 20.0),)
    poked = pixels.clone()
    poked[0, :, centre, centre] += 0.5
    with torch.no_grad():
        changed = (model(poked, *extra) - model(pixels, *extra)).abs().amax(1)[0] > 1e-5
    scale = changed.shape[-1] / side  # the network's own scale (a x2 restorer used at x1 included)
    rows, cols = torch.nonzero(changed, as_tuple=True)
    reach = [
        centre - rows.min().item() / scale,
        (rows.max().item() + 1) / scale - centre - 1,
        centre - cols.min().item() / scale,
        (cols.max().item() + 1) / scale - centre - 1,
    ]
    return max(reach)


@pytest.mark.build
@pytest.mark.parametrize("stage_name", sorted(n for n, s in STAGES.items() if s.tiling and n not in WIDE_NETWORKS))
def test_tile_context_covers_the_networks_receptive_field(stage_name: str) -> None:
    tiling_of = STAGES[stage_name].tiling
    assert tiling_of is not None
    radius = receptive_radius(stage_name)
    assert 1 <= radius <= tiling_of.context, f"{stage_name}: radius {radius} px, context {tiling_of.context} px"

"""Issue 31's pieces: the two noise makers (training and the evaluation's camera) and the noise-map estimator."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from lumaflow.build.arch.noise_map import NoiseMapEstimator, ffdnet_level
from lumaflow.build.camera_noise import (
    CAMERA_STRENGTHS,
    camera_pipeline,
    camera_reference,
    linear_to_srgb8,
    srgb_to_linear,
    training_noise_with_level,
)
from tests.fixtures import astronaut


def _grey(level: int, side: int = 64) -> np.ndarray:
    return np.full((side, side, 3), level, np.uint8)


@pytest.mark.unit
def test_srgb_curves_round_trip_every_level() -> None:
    levels = np.arange(256, dtype=np.uint8)
    assert np.array_equal(linear_to_srgb8(srgb_to_linear(levels)), levels)


@pytest.mark.unit
def test_the_camera_renders_a_photo_close_to_itself_and_a_flat_grey_exactly() -> None:
    assert np.array_equal(camera_reference(_grey(118)), _grey(118))
    photo = astronaut()[:128, :130]
    reference = camera_reference(photo)
    assert reference.shape == (128, 130, 3)
    error = np.abs(reference.astype(int) - photo.astype(int))
    assert error.mean() < 4.0  # demosaicking loses fine detail, not the photo


@pytest.mark.unit
def test_camera_noise_is_seeded_and_grows_with_strength() -> None:
    grey = _grey(100, 96)
    assert np.array_equal(camera_pipeline(grey, "day", 3), camera_pipeline(grey, "day", 3))
    spread = {name: float(camera_pipeline(grey, name, 3).astype(float).std()) for name in CAMERA_STRENGTHS}
    assert 0.5 < spread["day"] < spread["indoor"] < spread["night"]


@pytest.mark.unit
def test_training_noise_is_stronger_in_shadows_on_srgb_and_varies_by_region() -> None:
    rng = np.random.default_rng(0)
    gradient = np.repeat(np.repeat(np.linspace(10, 245, 128).astype(np.uint8)[None, :, None], 128, 0), 3, 2)
    noisy = np.stack(
        [training_noise_with_level(gradient, rng, spread=0.0, correlated=0.0)[0] for _ in range(8)]
    ).astype(float)
    error = np.abs(noisy - gradient).mean(axis=(0, 1, 3))
    assert error[:16].mean() > error[-16:].mean()  # the sRGB curve magnifies dark noise
    flat = _grey(128, 128)
    varied = (
        training_noise_with_level(flat, np.random.default_rng(1), spread=1.0, correlated=0.0)[0].astype(float) - 128
    )
    quadrants = [varied[:64, :64].std(), varied[:64, 64:].std(), varied[64:, :64].std(), varied[64:, 64:].std()]
    assert max(quadrants) > 1.3 * min(quadrants)


@pytest.mark.unit
def test_the_estimator_gives_a_positive_level_per_block_on_ffdnets_grid() -> None:
    estimator = NoiseMapEstimator().eval()
    with torch.inference_mode():
        levels = estimator(torch.rand(2, 3, 37, 50))
    assert levels.shape == (2, 1, 10, 13) and bool((levels > 0).all())
    assert torch.allclose(levels, torch.full_like(levels, 16.0), atol=1e-4)  # its starting level
    assert ffdnet_level(levels, 37, 50).shape == (2, 1, 19, 25)


@pytest.mark.build
def test_the_training_smoke_run_writes_weights_the_evaluation_loads(tmp_path: Path) -> None:
    from lumaflow.build.noise_map_eval import main as evaluate
    from lumaflow.build.train_noise_map import main as train

    assert train(["--smoke", "--out", str(tmp_path)]) == 0
    assert (
        evaluate([str(tmp_path / "noise_map.pt"), "--photos", "1", "--crop", "64", "--json", str(tmp_path / "r.json")])
        == 0
    )
    assert (tmp_path / "noise_map_summary.json").is_file() and (tmp_path / "r.json").is_file()

"""The classical noise estimator (the baseline the analysis network replaced), the NOISE_LEVEL and JPEG_QUALITY side
inputs."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data

from lumaflow.build.noise import estimate_noise_sigma
from lumaflow.runtime.side_inputs import SideContext, jpeg_quality, noise_level
from tests.fixtures import sporco_photo

pytestmark = pytest.mark.unit


def _noisy(photo: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0, sigma, photo.shape)
    return np.clip(photo.astype(np.float64) + noise, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("sigma", [5, 15, 25])
@pytest.mark.parametrize("name", ["astronaut", "coffee", "monarch"])
def test_estimates_gaussian_noise_within_three_levels(name: str, sigma: int) -> None:
    photo = sporco_photo(name) if name == "monarch" else getattr(data, name)()
    assert abs(estimate_noise_sigma(_noisy(photo, sigma, seed=sigma)) - sigma) <= 3.0


def test_a_clean_photo_reads_as_nearly_noiseless() -> None:
    assert estimate_noise_sigma(np.asarray(data.chelsea())) < 3.0


def test_tiny_images_do_not_break_it() -> None:
    assert estimate_noise_sigma(np.zeros((1, 1, 3), dtype=np.uint8)) == 0.0


def test_the_side_input_prefers_the_clients_noise_level_and_asks_the_analysis_once() -> None:
    noisy = _noisy(np.asarray(data.astronaut()), 25, seed=1)
    asked: list[np.ndarray] = []

    def analyser(pixels: np.ndarray) -> dict[str, float]:
        asked.append(pixels)
        return {"noise_sigma": 24.5, "jpeg_quality": 100.0}

    given, figures = noise_level(SideContext(noisy, noisy, {"noise_level": 10.0}, None, analyser))
    assert given.dtype == np.float32 and given.shape == (1, 1) and given[0, 0] == 10.0
    assert figures == {"noise_level": {"sigma": 10.0, "source": "options"}} and not asked
    context = SideContext(noisy, noisy, {"noise_level": None}, None, analyser)
    estimated, figures = noise_level(context)
    assert float(estimated[0, 0]) == 24.5 and figures["noise_level"] == {"sigma": 24.5, "source": "analysis network"}
    assert figures["photo"] == {"noise_sigma": 24.5, "jpeg_quality": 100.0}
    context.analysis()
    assert len(asked) == 1 and asked[0] is noisy


def test_the_jpeg_quality_side_input_reads_the_files_tables_before_asking_the_analysis() -> None:
    photo = np.asarray(data.astronaut())
    asked: list[np.ndarray] = []

    def analyser(pixels: np.ndarray) -> dict[str, float]:
        asked.append(pixels)
        return {"noise_sigma": 1.0, "jpeg_quality": 180.0}  # out of range: clamped to 100

    told, figures = jpeg_quality(SideContext(photo, photo, {}, None, analyser, file_jpeg_quality=12.0))
    assert told.dtype == np.float32 and told.shape == (1, 1) and told[0, 0] == 12.0 and not asked
    assert figures == {"jpeg_quality": {"quality": 12.0, "source": "the file's quantisation tables"}}
    estimated, figures = jpeg_quality(SideContext(photo, photo, {}, None, analyser))
    assert estimated[0, 0] == 100.0 and figures["jpeg_quality"]["source"] == "analysis network" and len(asked) == 1

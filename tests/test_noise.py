"""The classical noise estimator (the baseline the analysis network replaced), the NOISE_LEVEL and JPEG_QUALITY side
inputs."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data

from lumaflow.build.noise import estimate_noise_sigma
from lumaflow.runtime.noise_map import ESTIMATE_OVER_ANALYSIS, NOISE_SEEN_FROM, read_noise_map
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


def test_the_noise_map_reading_takes_the_estimators_median_only_where_the_analysis_reads_low_in_most_crops() -> None:
    low = read_noise_map(3.0, np.array([[4.0], [11.0], [12.0], [30.0]], dtype=np.float32))
    assert low.used and low.level == 11.5 and low.sigma == 11.5 and (low.low, low.high) == (4.0, 30.0)
    assert low.figures()["range"] == [4.0, 30.0] and low.figures()["used"] is True
    white = read_noise_map(25.0, np.array([27.0, 30.0, 33.0]))
    assert not white.used and white.sigma == 25.0 and white.level == 30.0
    # The rule's edges: exactly ESTIMATE_OVER_ANALYSIS times the analysis network's σ uses the estimator; a photo the
    # analysis network reads as clean keeps its σ however much noise the estimator reads (it reads texture as noise).
    assert read_noise_map(5.0, np.array([5.0 * ESTIMATE_OVER_ANALYSIS])).used
    assert read_noise_map(NOISE_SEEN_FROM, np.array([20.0])).used
    clean = read_noise_map(NOISE_SEEN_FROM - 0.1, np.array([20.0]))
    assert not clean.used and clean.sigma == NOISE_SEEN_FROM - 0.1 and "clean" in clean.figures()["reason"]
    # The median reads 3.5x the analysis network, but a quarter of the crops read under 2x (noise only where the
    # photo is busy: texture read as noise), so the analysis network's σ is told.
    busy = read_noise_map(3.0, np.array([1.0, 1.0, 2.0, 10.0, 11.0, 12.0, 13.0, 14.0]))
    assert busy.level == 10.5 and busy.gate == 1.75 and not busy.used and busy.sigma == 3.0
    assert read_noise_map(3.0, np.array([1.0, 1.0, 2.0, 10.0, 11.0, 12.0, 13.0, 14.0]), quantile=0.5).used
    with pytest.raises(ValueError, match="no levels"):
        read_noise_map(5.0, np.zeros((0, 1)))


def test_the_side_input_asks_the_noise_map_estimator_only_for_noise_map_auto_without_a_level() -> None:
    photo = np.asarray(data.astronaut())
    estimated: list[np.ndarray] = []

    def analyser(pixels: np.ndarray) -> dict[str, float]:
        return {"noise_sigma": 3.0}

    def estimator(pixels: np.ndarray) -> np.ndarray:
        estimated.append(pixels)
        return np.array([[9.0], [12.0], [14.0]], dtype=np.float32)

    sigma, figures = noise_level(SideContext(photo, photo, {"noise_map": "auto"}, None, analyser, estimator=estimator))
    assert float(sigma[0, 0]) == 12.0 and figures["noise_level"] == {"sigma": 12.0, "source": "noise-map estimator"}
    assert figures["noise_map"]["used"] and figures["noise_map"]["range"] == [9.0, 14.0] and estimated[0] is photo
    for options in ({"noise_map": "off"}, {"noise_map": "auto", "noise_level": 7.0}):
        sigma, figures = noise_level(SideContext(photo, photo, options, None, analyser, estimator=estimator))
        assert "noise_map" not in figures and float(sigma[0, 0]) == options.get("noise_level", 3.0)
    assert len(estimated) == 1

"""Liu, Tanaka and Okutomi's weak-texture noise estimator (`lumaflow.build.weak_texture`) and the sweep that tried it
as a second opinion for the served noise rule (`lumaflow.build.noise_map_second_opinion`)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lumaflow.build.weak_texture import box_means, view_level, weak_texture_level
from lumaflow.runtime.crops import grid_crops
from tests.fixtures import astronaut

GATES = Path(__file__).resolve().parents[1] / "docs" / "quality" / "noise-map-gates-validation-crops.json"


def _noisy(pixels: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0.0, sigma, pixels.shape)
    return np.clip(pixels + noise, 0, 255).round().astype(np.uint8)


@pytest.mark.unit
@pytest.mark.parametrize("sigma", [5.0, 10.0, 25.0])
def test_white_noise_on_a_flat_grey_reads_its_sigma(sigma: float) -> None:
    level = weak_texture_level(grid_crops(_noisy(np.full((256, 256, 3), 128.0), sigma)))
    assert level == pytest.approx(sigma, rel=0.05)  # 4.84 / 9.71 / 24.17 measured: the least eigenvalue reads low


@pytest.mark.unit
def test_a_busy_clean_photo_reads_its_flat_parts_and_its_noise_not_its_texture() -> None:
    photo = astronaut()[:256, :256]
    assert weak_texture_level(grid_crops(photo)) < 2.0  # 1.50: the learned estimator reads texture far higher
    assert weak_texture_level(grid_crops(_noisy(photo.astype(np.float64), 10.0))) == pytest.approx(10.0, rel=0.08)


@pytest.mark.unit
def test_the_coarser_views_keep_white_noise_per_channel_and_average_it_down() -> None:
    crops = grid_crops(_noisy(np.full((256, 256, 3), 128.0), 20.0))
    assert box_means(crops, 2).shape == (25, 32, 32, 3)
    assert view_level(crops, "means2") == pytest.approx(10.0, rel=0.1)  # a 2 x 2 mean of white noise: σ / 2
    assert view_level(crops, "chroma2") == pytest.approx(10.0, rel=0.1)  # orthonormal chroma keeps that σ
    grey = np.repeat(_noisy(np.full((256, 256, 1), 128.0), 20.0), 3, axis=2)  # noise the same in R, G and B
    assert view_level(grid_crops(grey), "chroma2") == 0.0  # is no colour noise


@pytest.mark.unit
def test_the_second_opinions_sweep_without_it_is_the_gate_sweeps_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """At t = 0 the second opinion passes every case, so the sweep must give `noise_map_gates`' figures for the same
    rules, read from its committed JSON: the two judge the same cases the same way."""
    from lumaflow.build import noise_map_second_opinion as second

    gates = json.loads(GATES.read_text())
    (key,) = gates["estimators"]
    monkeypatch.setattr(second, "THRESHOLDS", (0.0, 1.0))
    zeros = {noise: dict.fromkeys(rows, 0.0) for noise, rows in gates["per_photo"].items()}
    rules = second.sweep(gates["per_photo"], key, zeros)
    without = {(r["quantile"], r["seen"], r["ratio"]): r for r in rules if r["t"] == 0.0}
    for rule in gates["estimators"][key]["rules"]:
        mine = without[(rule["quantile"], rule["seen"], rule["ratio"])]
        assert mine["gains"] == rule["gains"] and mine["allowed"] == rule["allowed"]
    assert second.choose(rules) == {**without[(0.25, 2.0, 2.0)], "t": 0.0}  # the served rule, chosen again
    assert all(r["camera_mean"] == 0.0 for r in rules if r["t"] == 1.0)  # an opinion of 0 never passes t = 1

"""The three photo sets: disjoint, big enough, every file present, no near-duplicate across them, the test set named
in docs/quality.md."""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lumaflow.build import photo_sets
from lumaflow.build.photo_sets import MIN_HASH_DISTANCE, PHOTOS, SETS, hash_distance, load, perceptual_hash, photos_in

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def loaded() -> dict[str, np.ndarray]:
    return {photo.name: load(photo) for photo in PHOTOS}


def test_every_photo_is_in_exactly_one_set_and_each_set_is_big_enough() -> None:
    names = [photo.name for photo in PHOTOS]
    files = [photo.path for photo in PHOTOS]
    assert len(set(names)) == len(names) and len(set(files)) == len(files)
    sizes = {name: len(photos_in(name)) for name in SETS}
    assert sizes["test"] >= 24 and sizes["validation"] >= 12 and sizes["train"] >= 12, sizes
    assert sum(sizes.values()) == len(PHOTOS)
    assert all("libjxl" not in photo.package for photo in PHOTOS)
    assert all(photo.licence and photo.content for photo in PHOTOS)


def test_high_resolution_sources_are_reduced_at_least_twice(loaded: dict[str, np.ndarray]) -> None:
    for photo in PHOTOS:
        pixels = loaded[photo.name]
        assert pixels.dtype == np.uint8 and pixels.ndim == 3 and pixels.shape[2] == 3, photo.name
        with Image.open(photo_sets._source_file(photo)) as source:
            width, height = source.size
        if photo.reduce:
            factor = photo_sets.reduction_factor(width, height)  # Image.reduce keeps a partial last box
            assert factor >= 2 and pixels.shape[:2] == (-(-height // factor), -(-width // factor)), photo.name
            assert max(pixels.shape[:2]) <= 1.5 * photo_sets.TARGET_LONG_SIDE
        else:
            assert (height, width) == pixels.shape[:2]


def test_no_two_photos_are_near_duplicates(loaded: dict[str, np.ndarray]) -> None:
    hashes = {name: perceptual_hash(pixels) for name, pixels in loaded.items()}
    closest = min((hash_distance(hashes[a], hashes[b]), a, b) for a, b in itertools.combinations(hashes, 2))
    assert closest[0] >= MIN_HASH_DISTANCE, closest


def test_the_hash_finds_a_photo_again_after_resizing_and_recompression(loaded: dict[str, np.ndarray]) -> None:
    """What the dedup check relies on: one photo shipped twice, resized and re-encoded, hashes within a few bits."""
    for name in ("astronaut", "Bridge", "cv_messi", "Blinds"):
        pixels = loaded[name]
        height, width = pixels.shape[:2]
        smaller = Image.fromarray(pixels).resize((width * 2 // 3, height * 2 // 3), Image.Resampling.BILINEAR)
        buffer = io.BytesIO()
        smaller.save(buffer, format="JPEG", quality=60)
        again = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))
        assert hash_distance(perceptual_hash(pixels), perceptual_hash(again)) < MIN_HASH_DISTANCE // 2, name


def test_docs_name_every_test_photo_and_its_licence() -> None:
    quality = (ROOT / "docs" / "quality.md").read_text()
    for photo in photos_in("test"):
        assert f"`{photo.name}`" in quality and photo.licence in quality, photo.name

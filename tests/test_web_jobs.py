"""The web page's jobs without a server: progress from tile counts or an estimate, names, the before image."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import numpy as np
import pytest
from PIL import Image

from lumaflow.client import EnhanceResult
from lumaflow.web import jobs
from lumaflow.web.jobs import Job, JobStore, before_at, clean_stem, tile_progress
from tests.fixtures import astronaut, encode

pytestmark = pytest.mark.unit


def test_tile_counts_become_one_fraction_over_every_stage() -> None:
    answer = tile_progress({"stages": {"span_x4": [6, 12], "span_x2": [0, 48]}, "age_s": 0.1})
    assert answer == {"fraction": 0.1, "detail": "span_x4: 6 of 12 tiles; span_x2: 0 of 48 tiles", "source": "server"}
    assert tile_progress({}) is None


@pytest.mark.parametrize(
    ("name", "stem"),
    [("holiday photo.JPG", "holiday_photo"), ("../../etc/passwd", "passwd"), ('a"b;c.png', "a_b_c"), ("...", "photo")],
)
def test_download_names_keep_only_a_clean_stem(name: str, stem: str) -> None:
    assert clean_stem(name) == stem


def test_before_is_the_preview_bicubic_upscaled_to_the_results_size() -> None:
    photo = astronaut()[:40, :60]
    preview = encode(photo)
    assert before_at(preview, {"output": {"width": 60, "height": 40}}) == preview
    upscaled = np.asarray(Image.open(io.BytesIO(before_at(preview, {"output": {"width": 120, "height": 80}}))))
    assert np.array_equal(upscaled, np.asarray(Image.fromarray(photo).resize((120, 80), Image.Resampling.BICUBIC)))


class _SlowUntiled:
    """A client whose pipeline reports no tiles (an untiled stage) and takes 0.6 s."""

    async def progress(self, request_id: str) -> dict[str, Any]:
        return {}

    async def enhance(self, data: bytes, pipeline: str, **options: Any) -> EnhanceResult:
        await asyncio.sleep(0.6)
        return EnhanceResult(data, {"output": {"width": 60, "height": 40, "format": "png"}}, 0.6)


def test_an_untiled_pipeline_gets_an_estimate_from_its_measured_speed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jobs, "POLL_S", 0.05)

    async def scenario() -> list[dict[str, Any]]:
        store = JobStore(_SlowUntiled())  # type: ignore[arg-type]
        store.seconds_per_megapixel["lowlight"] = 0.6 / 0.0024  # measured here before: 0.6 s for this photo
        job = Job(store.new_id(), "x.png", "lowlight", megapixels=0.0024)
        store.start(job, encode(astronaut()[:40, :60]), {}, {}, encode(astronaut()[:40, :60]))
        seen = []
        while job.state != "done":
            await asyncio.sleep(0.05)
            seen.append(dict(job.progress))
        store.close()
        return seen

    seen = asyncio.run(scenario())
    estimates = [entry["fraction"] for entry in seen if entry["source"] == "estimate" and entry["detail"] != "done"]
    assert len(estimates) >= 3 and estimates == sorted(estimates) and 0 < estimates[-1] < 1

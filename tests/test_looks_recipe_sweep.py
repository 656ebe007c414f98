"""kodachrome_60s's recipe sweep (lumaflow.build.looks_recipe_sweep): its first candidate is the recipe before, its
choice the recipe served (the look refit on it, lumaflow.build.looks_refit), its committed figures choose what it
says, and its choice keeps kodachrome_60s apart from vivid on the validation close-up where the recipe before met
it (docs/quality.md)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from lumaflow.build.gradings import GRADINGS, grade, grade_with
from lumaflow.build.looks import resize_long_side
from lumaflow.build.looks_eval import DISTINCT_LONG_SIDE
from lumaflow.build.looks_recipe_sweep import CANDIDATES, CHOSEN, LOOK, choose, measure, other_looks
from lumaflow.build.photo_variants import photo_variant

pytestmark = pytest.mark.unit

SWEEP = Path(__file__).resolve().parents[1] / "docs" / "quality" / "looks-recipe-sweep-kodachrome-validation.json"


@pytest.fixture(scope="module")
def chelsea_closeup_vivid() -> np.ndarray:
    """chelsea (a validation photo) cut to its close-up and made vivid, at `looks distinct`'s size: the frame where
    vivid and the recipe before are 0.79 ΔE apart."""
    from skimage import data

    return resize_long_side(photo_variant(data.chelsea(), "closeup vivid"), DISTINCT_LONG_SIDE)


def test_the_sweeps_first_candidate_is_the_recipe_before_and_its_choice_is_served(
    chelsea_closeup_vivid: np.ndarray,
) -> None:
    from skimage import data

    for photo in (chelsea_closeup_vivid, data.astronaut()[::4, ::4]):
        assert np.array_equal(grade(photo, LOOK), grade_with(photo, CANDIDATES[CHOSEN]))
        assert not np.array_equal(grade(photo, LOOK), grade_with(photo, CANDIDATES[next(iter(CANDIDATES))]))
    assert GRADINGS[LOOK].__doc__ and "chroma to 0.15" in GRADINGS[LOOK].__doc__


def test_the_committed_sweep_chose_the_candidate_it_names() -> None:
    sweep = json.loads(SWEEP.read_text())
    assert list(sweep["candidates"]) == list(CANDIDATES)
    assert choose(sweep["candidates"]) == sweep["chosen"] == CHOSEN
    assert sweep["frames"] == 96 and sweep["set"] == "validation"


def test_the_chosen_recipe_parts_from_vivid_where_the_recipe_before_met_it(chelsea_closeup_vivid: np.ndarray) -> None:
    """On this one frame: the recipe before 0.79 from vivid (the sweep's least, over all 96 frames, was here), the
    chosen one at least the sweep's least to vivid over all frames (5.13)."""
    shots = {"chelsea (closeup vivid)": chelsea_closeup_vivid}
    with torch.inference_mode():
        others = other_looks(shots)
        before = measure(CANDIDATES[next(iter(CANDIDATES))], shots, others)
        chosen = measure(CANDIDATES[CHOSEN], shots, others)
    assert before["closest"][0]["look"] == "vivid" and before["least"] == pytest.approx(0.79, abs=0.01)
    assert chosen["least_to_vivid"] >= 5.13
    assert chosen["least"] >= 3.33

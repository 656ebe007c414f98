"""Old-photo damage (issue 12): the synthetic damage generator, DamageNet, its served graph and its weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from lumaflow.build import WEIGHTS_DIR
from lumaflow.build.arch.damage import DamageNet, receptive_radius
from lumaflow.build.arch.inpaint import GatedInpainter
from lumaflow.build.damage_data import (
    DAMAGE_KINDS,
    VISIBLE,
    add_damage,
    damage_loss,
    damaged_photo,
    eval_cases,
    iou,
    predict_mask,
    tophat_mask,
)
from lumaflow.build.export import export_onnx, verify_onnx
from lumaflow.build.photos import eval_photos
from lumaflow.build.pixels import PixelsGraph
from lumaflow.build.registry import load_file, load_state_dict
from lumaflow.build.repository import _parity_samples

RECEPTIVE_RADIUS = 39  # px; the tiler's context for the damage stage is set from it (docs/quality.md)


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return eval_photos()["coffee"][:200, :300].copy()


# --- the generator ------------------------------------------------------------------------------


@pytest.mark.unit
def test_damaged_photo_is_deterministic_and_covers_a_few_percent(photo: np.ndarray) -> None:
    first, mask = damaged_photo(photo, 3)
    again, mask_again = damaged_photo(photo, 3)
    other, _ = damaged_photo(photo, 4)
    assert np.array_equal(first, again) and np.array_equal(mask, mask_again)
    assert not np.array_equal(first, other)
    assert first.dtype == np.uint8 and first.shape == photo.shape
    assert mask.dtype == np.uint8 and mask.shape == photo.shape[:2] and set(np.unique(mask)) <= {0, 1}
    assert 0.01 < mask.mean() < 0.15


@pytest.mark.unit
@pytest.mark.parametrize("kind", DAMAGE_KINDS)
def test_each_kind_is_marked_where_it_changed_the_photo_and_only_there(photo: np.ndarray, kind: str) -> None:
    damaged, mask = add_damage(photo, np.random.default_rng(1), kinds=(kind,), amount=2.0, age=False)
    change = np.abs(damaged.astype(np.int16) - photo.astype(np.int16)).max(axis=2)
    assert mask.sum() > 20, kind
    assert change[mask == 1].min() >= VISIBLE
    assert change[mask == 0].max() < VISIBLE


@pytest.mark.unit
def test_ageing_alone_changes_the_photo_but_marks_nothing(photo: np.ndarray) -> None:
    for seed in range(3):  # grain, paper mottle, fading and toning are not damage
        aged, mask = add_damage(photo, np.random.default_rng(seed), kinds=())
        assert mask.sum() == 0
        assert np.abs(aged.astype(np.int16) - photo.astype(np.int16)).mean() > 2.0


@pytest.mark.unit
def test_sepia_toning_is_applied_before_the_damage(photo: np.ndarray) -> None:
    aged, mask = add_damage(photo, np.random.default_rng(0), tone="sepia")
    clean = aged[mask == 0].astype(np.int16)
    assert (clean[:, 0] >= clean[:, 2]).mean() > 0.95  # warm everywhere undamaged
    assert mask.sum() > 0


@pytest.mark.unit
def test_the_loss_prefers_the_true_mask() -> None:
    target = torch.zeros(1, 1, 32, 32)
    target[..., 10:12, :] = 1.0
    assert damage_loss(target * 0.98 + 0.01, target) < damage_loss(torch.full_like(target, 0.05), target)


# --- the network --------------------------------------------------------------------------------


@pytest.mark.unit
@pytest.mark.parametrize("widths", [(16, 32, 48), (8, 12, 20)])
def test_damage_net_round_trips_through_the_registry(widths: tuple[int, int, int]) -> None:
    model = DamageNet(widths=widths)
    torch.manual_seed(0)
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.1)  # non-zero everywhere, so a mis-wired load would show
    loaded = load_state_dict(model.state_dict())
    assert loaded.architecture == "DamageNet" and loaded.scale == 1 and loaded.out_channels == 1
    assert tuple(loaded.hyperparameters[f"width{i}"] for i in range(3)) == widths
    x = torch.rand(2, 3, 24, 40)
    with torch.inference_mode():
        assert torch.equal(model.eval()(x), loaded.model(x))


@pytest.mark.unit
def test_no_other_architecture_claims_a_damage_net_and_it_claims_no_other() -> None:
    assert load_state_dict(GatedInpainter().state_dict()).architecture == "GatedInpainter"
    state = DamageNet().state_dict()
    state.pop("logit.bias")
    with pytest.raises(ValueError, match="unknown architecture"):
        load_state_dict(state)


@pytest.mark.unit
@pytest.mark.parametrize("size", [(1, 1), (13, 22), (31, 7)])
def test_any_size_gives_a_probability_per_pixel(size: tuple[int, int]) -> None:
    model = DamageNet().eval()
    with torch.inference_mode():
        p = model(torch.rand(2, 3, *size))
    assert p.shape == (2, 1, *size) and float(p.min()) >= 0.0 and float(p.max()) <= 1.0


@pytest.mark.unit
def test_receptive_radius_is_what_the_docs_say() -> None:
    assert receptive_radius(DamageNet()) == RECEPTIVE_RADIUS


@pytest.mark.build
def test_the_generic_pixels_graph_serves_a_one_channel_mask(tmp_path: Path) -> None:
    """PIXELS uint8 [N, H, W, 3] -> DAMAGE uint8 [N, H, W, 1], through the same path as build_artifact."""
    model = load_file(str(WEIGHTS_DIR / "damage.pt")).model
    graph = PixelsGraph(model)
    path = export_onnx(graph, tmp_path / "damage.onnx", input_name="PIXELS", output_name="DAMAGE")
    parity = verify_onnx(graph, path, _parity_samples())
    assert parity.max_abs_diff <= 1
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["PIXELS"]
    assert [o.name for o in session.get_outputs()] == ["DAMAGE"]
    (out,) = session.run(None, {"PIXELS": np.zeros((3, 17, 29, 3), dtype=np.uint8)})
    assert out.dtype == np.uint8 and out.shape == (3, 17, 29, 1)


# --- the committed weights ---------------------------------------------------------------------------


@pytest.mark.build
def test_committed_weights_beat_the_top_hat_baseline_on_a_held_out_photo() -> None:
    model = load_file(str(WEIGHTS_DIR / "damage.pt")).model
    _, damaged, mask = eval_cases()["astronaut/sepia/all"]
    network, baseline = iou(predict_mask(model, damaged), mask), iou(tophat_mask(damaged), mask)
    assert network > baseline + 0.1, (network, baseline)

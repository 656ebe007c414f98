"""The looks network (stylize templates): gradings, the LUT network, its served graph and its committed weights."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from lumaflow import contract
from lumaflow.build import WEIGHTS_DIR
from lumaflow.build.arch.lut import CURVE, LookNet, LooksGraph, apply_lut, export_looks_onnx, identity_lut
from lumaflow.build.arch.lut_push import PUSH_OFF
from lumaflow.build.assess_data import to_tensor
from lumaflow.build.export import verify_onnx
from lumaflow.build.gradings import GRADINGS, grade, recipe
from lumaflow.build.looks import delta_e, looks_parity_samples, resize_long_side, stylize
from lumaflow.build.photos import eval_photos
from lumaflow.build.registry import load_file, load_state_dict
from lumaflow.ensemble.looks import CATEGORIES, TEMPLATE_NAMES, TEMPLATES, THUMBNAILS
from lumaflow.ensemble.stages import Network, Stage


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """A held-out photo at a quarter of its area (each look grades it as a whole photo)."""
    from PIL import Image

    image = eval_photos()["astronaut"]
    return np.asarray(Image.fromarray(image).resize((256, 256), Image.Resampling.LANCZOS))


def _noisy_looknet(**hp: int) -> LookNet:
    model = LookNet(**hp)
    torch.manual_seed(0)
    for p in model.parameters():
        torch.nn.init.normal_(p, mean=0.5, std=0.2)  # non-zero everywhere, so a mis-wired load would show
    return model.eval()


@pytest.mark.unit
def test_gradings_are_deterministic_keep_size_and_differ(photo: np.ndarray) -> None:
    graded = {name: grade(photo, name) for name in TEMPLATE_NAMES}
    for name, image in graded.items():
        assert image.shape == photo.shape and image.dtype == np.uint8
        assert np.array_equal(image, grade(photo, name))
        assert delta_e(image, photo) > 3.0, name  # every look visibly changes the photo
    mono = graded["mono_classic"].astype(int)
    assert np.abs(mono[..., 0] - mono[..., 2]).max() <= 1  # black and white is grey
    sepia = graded["sepia_print"].astype(float).reshape(-1, 3).mean(0)
    assert sepia[0] > sepia[1] > sepia[2]  # brown toned


@pytest.mark.unit
def test_at_least_60_looks_in_at_least_6_categories_each_with_a_recipe_and_a_thumbnail() -> None:
    assert len(TEMPLATES) >= 60 and len(set(TEMPLATE_NAMES)) == len(TEMPLATES)
    used = {look.category for look in TEMPLATES}
    assert len(used) >= 6 and used == {key for key, _ in CATEGORIES}
    assert list(GRADINGS) == list(TEMPLATE_NAMES)
    recipes = [recipe(name) for name in TEMPLATE_NAMES]
    assert len(set(recipes)) == len(recipes) and all(r and "\n" not in r for r in recipes)
    assert len({look.description for look in TEMPLATES}) == len(TEMPLATES)
    missing = [name for name in TEMPLATE_NAMES if not (THUMBNAILS / f"{name}.jpg").is_file()]
    assert not missing, f"no thumbnail: run `python -m lumaflow.build.looks sheet` ({missing})"


@pytest.mark.unit
def test_the_committed_catalogue_and_sheets_match_the_looks() -> None:
    from lumaflow.build.looks_sheet import CATALOGUE, DOCS, catalogue

    assert (DOCS / CATALOGUE).read_text() == catalogue(), "run `python -m lumaflow.build.looks sheet`"
    assert all((DOCS / f"{key}.png").is_file() for key, _ in CATEGORIES)


@pytest.mark.unit
def test_every_pair_of_gradings_differs_by_at_least_3_delta_e(photo: np.ndarray) -> None:
    """Issue 30's bar, on the gradings themselves (the network's outputs: the committed-weights test below)."""
    from skimage.color import deltaE_ciede2000, rgb2lab

    small = resize_long_side(photo, 64)
    labs = [rgb2lab(grade(small, name)) for name in TEMPLATE_NAMES]
    close = [
        (TEMPLATE_NAMES[i], TEMPLATE_NAMES[j], round(d, 2))
        for i in range(len(labs))
        for j in range(i + 1, len(labs))
        if (d := float(deltaE_ciede2000(labs[i], labs[j]).mean())) < 3.0
    ]
    assert not close


@pytest.mark.unit
def test_the_distinctness_check_lists_every_pair_under_3_and_the_looks_they_share() -> None:
    """A frame of one saturated yellow-green, every pixel at the gamut's edge (as Blinds' close-up made vivid is):
    the targets merge there by the score (108 pairs measured), so the check lists them all, not only 20, and counts
    each look's share for a recipe redesign."""
    from lumaflow.build.looks_eval import MIN_PAIR, crowded_looks, pairwise_distances

    frame = np.broadcast_to(np.asarray((150, 255, 0), np.uint8), (24, 32, 3)).copy()
    figures = pairwise_distances(None, {"yellow-green": frame})
    below = figures["pairs_below"]["count"]
    assert below > 20
    assert len(figures["closest"]) == below and all(e["delta_e"] < MIN_PAIR for e in figures["closest"])
    assert sum(figures["crowded"].values()) == 2 * below
    assert figures["crowded"] == crowded_looks([tuple(e["looks"]) for e in figures["closest"]])
    assert crowded_looks([("a", "b"), ("b", "c")]) == {"b": 2, "a": 1, "c": 1}


@pytest.mark.unit
def test_the_differentiable_lab_matches_skimage() -> None:
    from skimage.color import rgb2lab

    from lumaflow.build.arch.colour import srgb_to_lab

    pixels = np.random.default_rng(0).integers(0, 256, (2, 12, 16, 3)).astype(np.uint8)
    pixels[0, 0, :4] = ((0, 0, 0), (255, 255, 255), (1, 1, 1), (255, 0, 0))  # the ends and the linear segment
    lab = srgb_to_lab(to_tensor(list(pixels))).permute(0, 2, 3, 1).numpy()
    np.testing.assert_allclose(lab, rgb2lab(pixels), atol=1e-3)


@pytest.mark.unit
def test_ciede2000_in_torch_matches_skimage() -> None:
    """The measure the served looks are kept apart by is the one they are judged by: scikit-image's CIEDE2000,
    on random pairs, equal pairs, greys (hue undefined) and pairs whose hues straddle 0 and 180 degrees."""
    from skimage.color import deltaE_ciede2000, rgb2lab

    from lumaflow.build.arch.colour import ciede2000

    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (1, 30, 40, 3)).astype(np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-40, 41, a.shape), 0, 255).astype(np.uint8)
    b[0, :3], a[0, 3:6], b[0, 3:6] = a[0, :3], 128, 128  # equal pairs; greys
    a[0, 6, :2], b[0, 6, :2] = ((250, 10, 20), (10, 250, 240)), ((240, 10, 60), (240, 10, 30))
    lab_a, lab_b = rgb2lab(a[0]), rgb2lab(b[0])
    ours = ciede2000(torch.from_numpy(lab_a).permute(2, 0, 1)[None], torch.from_numpy(lab_b).permute(2, 0, 1)[None])
    np.testing.assert_allclose(ours[0].numpy(), deltaE_ciede2000(lab_a, lab_b), atol=1e-6)


@pytest.mark.unit
def test_looks_batches_hold_one_crop_graded_by_two_looks(photo: np.ndarray) -> None:
    from lumaflow.build.looks import NEIGHBOURS, LooksSampler

    sampler = LooksSampler([photo, photo[::-1].copy()], 64, np.random.default_rng(0))
    assert sampler.neighbours.shape == (len(TEMPLATE_NAMES), NEIGHBOURS)
    assert all(i not in row for i, row in enumerate(sampler.neighbours.tolist()))
    (crops, templates, strengths), targets = sampler.batch(8)
    assert torch.equal(crops[0::2], crops[1::2]) and bool((templates[0::2] != templates[1::2]).all())
    assert bool((strengths == 1).all())
    for crop, template, target in zip(crops, templates.tolist(), targets, strict=True):
        pixels = np.ascontiguousarray(crop.mul(255).round().to(torch.uint8).permute(1, 2, 0).numpy())
        graded = grade(pixels, TEMPLATE_NAMES[template])
        assert torch.equal(target, to_tensor([graded])[0])
    with pytest.raises(ValueError, match="even"):
        sampler.batch(7)


@pytest.mark.unit
def test_the_looks_loss_charges_for_merging_two_looks_the_gradings_keep_apart() -> None:
    from lumaflow.build.looks import DISTINCT_CAP, DISTINCT_WEIGHT, looks_loss, pair_distances

    rng = np.random.default_rng(1)
    target = torch.from_numpy(rng.uniform(0.1, 0.9, (4, 3, 8, 8)).astype(np.float32))
    assert float(looks_loss(target, target)) == 0.0
    merged = target.clone()
    merged[1] = merged[0]  # the first pair's two looks made one
    wanted = float(pair_distances(target)[0].clamp(max=DISTINCT_CAP))
    l1 = float(torch.nn.functional.l1_loss(merged, target))
    assert float(looks_loss(merged, target)) == pytest.approx(l1 + DISTINCT_WEIGHT * wanted / 2, rel=1e-3)
    apart = target.clone()
    apart[1] = 1.0 - apart[0]  # further apart than the gradings: no charge beyond L1
    assert float(looks_loss(apart, target)) == pytest.approx(float(torch.nn.functional.l1_loss(apart, target)))


@pytest.mark.unit
def test_the_looks_loss_keeps_a_floor_between_looks_whose_gradings_meet() -> None:
    from lumaflow.build.looks import DISTINCT_FLOOR, DISTINCT_WEIGHT, looks_loss, pair_distances

    rng = np.random.default_rng(2)
    target = torch.from_numpy(rng.uniform(0.1, 0.9, (2, 3, 8, 8)).astype(np.float32))
    target[1] = target[0] + 0.01  # two gradings almost one on this crop
    assert float(pair_distances(target)[0]) < DISTINCT_FLOOR / 2
    short = DISTINCT_FLOOR - float(pair_distances(target)[0])
    assert float(looks_loss(target, target)) == pytest.approx(DISTINCT_WEIGHT * short, rel=1e-3)  # a perfect copy
    apart = target.clone()
    apart[1] = apart[0] + 0.08  # the network keeps them the floor apart: only the L1 to the gradings is charged
    assert float(pair_distances(apart)[0]) > DISTINCT_FLOOR
    assert float(looks_loss(apart, target)) == pytest.approx(float(torch.nn.functional.l1_loss(apart, target)))


@pytest.mark.unit
def test_every_pair_of_gradings_differs_on_a_black_and_white_photo(photo: np.ndarray) -> None:
    """On a photo without colour the colour looks can only differ by tone and tint: they were given distinct ones
    (two grey wallpapers among the training photos merged vivid and mono_classic exactly)."""
    from skimage.color import deltaE_ciede2000, rgb2lab

    small = resize_long_side(photo, 64)
    grey = np.repeat(np.round(small @ np.array([0.299, 0.587, 0.114])).astype(np.uint8)[..., None], 3, axis=-1)
    labs = [rgb2lab(grade(grey, name)) for name in TEMPLATE_NAMES]
    least = min(
        (float(deltaE_ciede2000(labs[i], labs[j]).mean()), TEMPLATE_NAMES[i], TEMPLATE_NAMES[j])
        for i in range(len(labs))
        for j in range(i + 1, len(labs))
    )
    assert least[0] >= 3.0, least


@pytest.mark.unit
def test_photo_variants_are_colourful_bright_and_dark_versions(photo: np.ndarray) -> None:
    from lumaflow.build.gradings.blocks import chroma, luma
    from lumaflow.build.photo_variants import COLOURFUL_CHROMA, VARIANTS, photo_variant, with_variants

    def mean(f: Callable[[np.ndarray], np.ndarray], image: np.ndarray) -> float:
        return float(f(image.astype(np.float32) / 255.0).mean())

    colourful = photo_variant(photo, "colourful")
    assert 1.5 * mean(chroma, photo) < mean(chroma, colourful) <= COLOURFUL_CHROMA  # 3x at most, then clipped
    red = np.zeros((8, 8, 3), np.uint8)
    red[..., 0] = 255
    assert np.array_equal(photo_variant(red, "colourful"), red)  # more colourful already: never made duller
    assert mean(luma, photo_variant(photo, "bright")) > mean(luma, photo) > mean(luma, photo_variant(photo, "dark"))
    named = with_variants({"a": photo})
    assert list(named) == ["a", *(f"a ({v})" for v in VARIANTS)] and named["a"] is photo
    with pytest.raises(ValueError, match="colourful"):
        photo_variant(photo, "sepia")


@pytest.mark.unit
def test_the_vivid_check_versions_clip_far_past_the_colourful_ones(photo: np.ndarray) -> None:
    """The vivid versions (``looks distinct --vivid``, a check never trained on) push colour past the gamut."""
    from lumaflow.build.gradings.blocks import chroma
    from lumaflow.build.photo_variants import VARIANTS, VIVID_CHROMA, photo_variant, with_variants

    def mean_chroma(image: np.ndarray) -> float:
        return float(chroma(image.astype(np.float32) / 255.0).mean())

    made = photo_variant(photo, "vivid")
    assert mean_chroma(photo_variant(photo, "colourful")) < mean_chroma(made) <= VIVID_CHROMA
    assert np.mean((made == 0) | (made == 255)) > 2 * np.mean((photo == 0) | (photo == 255))  # clipped channels
    grey = np.full((8, 8, 3), 128, np.uint8)
    assert np.array_equal(photo_variant(grey, "vivid"), grey)  # no colour to raise
    named = with_variants({"a": photo}, ("vivid",))
    assert list(named) == ["a", "a (vivid)"] and named["a"] is photo
    assert "vivid" not in VARIANTS  # a check only: the training's versions leave it out


@pytest.mark.unit
def test_the_closeup_check_is_the_most_colourful_quarter(photo: np.ndarray) -> None:
    """A close-up (``looks distinct --closeup``, a check only) is the half-width, half-height window with the most
    colour, and "closeup vivid" is that window made vivid: variants joined by a space apply left to right."""
    from lumaflow.build.photo_variants import CLOSEUP_VARIANTS, VARIANTS, photo_variant, with_variants

    scene = np.full((80, 120, 3), 128, np.uint8)
    scene[40:80, 60:120] = (200, 60, 40)  # the colourful quarter: bottom right
    scene[0:40, 0:60] = (90, 100, 95)  # a duller one
    assert np.array_equal(photo_variant(scene, "closeup"), scene[40:80, 60:120])
    crop = photo_variant(photo, "closeup")
    assert crop.shape[:2] == (photo.shape[0] // 2, photo.shape[1] // 2)
    assert np.array_equal(photo_variant(photo, "closeup vivid"), photo_variant(crop, "vivid"))
    named = with_variants({"a": photo}, CLOSEUP_VARIANTS)
    assert list(named) == ["a", "a (closeup)", "a (closeup vivid)"]
    assert not set(CLOSEUP_VARIANTS) & set(VARIANTS)  # a check only: the training's versions leave it out
    with pytest.raises(ValueError, match="closeup"):
        photo_variant(photo, "closeup sepia")


@pytest.mark.unit
def test_gradings_adapt_to_the_photo(photo: np.ndarray) -> None:
    """A darker photo is graded brighter than a fixed curve would: the part a single LUT cannot do."""
    dark = (photo.astype(np.float32) * 0.5).round().astype(np.uint8)
    for name in ("vivid", "faded_matte"):
        # Through the fixed curves alone, halving the input would keep the output well below the original's grading.
        assert grade(dark, name).mean() > 0.8 * grade(photo, name).mean(), name


@pytest.mark.unit
def test_looknet_round_trips_through_the_registry() -> None:
    model = _noisy_looknet(templates=5, basis=2, size=9, width=8)
    loaded = load_state_dict(model.state_dict())
    assert loaded.architecture == "LookNet"
    assert {k: loaded.hyperparameters[k] for k in ("templates", "basis", "size", "width")} == {
        "templates": 5,
        "basis": 2,
        "size": 9,
        "width": 8,
    }
    x, t, s = torch.rand(3, 3, 17, 29), torch.tensor([0, 4, 2]), torch.tensor([1.0, 0.5, 1.0])
    with torch.inference_mode():
        assert torch.equal(loaded.model(x, t, s), model(x, t, s))


@pytest.mark.unit
def test_no_other_architecture_claims_a_looknet_and_it_claims_no_other() -> None:
    from lumaflow.build.arch.espcn import ESPCN
    from lumaflow.build.arch.inpaint import GatedInpainter
    from lumaflow.build.arch.residual import ResidualRestorer
    from lumaflow.build.registry import REGISTRY

    state = LookNet(size=5, width=4).state_dict()
    assert [name for name, support in REGISTRY.items() if support.detect(state)] == ["LookNet"]
    for other in (ESPCN(scale=2), ResidualRestorer(features=8, num_blocks=1), GatedInpainter(widths=(4, 8, 8))):
        assert not REGISTRY["LookNet"].detect(other.state_dict())
    broken = dict(state)
    broken["luts"] = torch.zeros(12, 3, 3, 120)  # not a cube
    with pytest.raises(ValueError, match="unknown architecture"):
        load_state_dict(broken)


@pytest.mark.unit
def test_trilinear_lut_is_exact_on_the_identity_and_the_nodes() -> None:
    x = torch.rand(2, 3, 11, 7)
    assert torch.allclose(apply_lut(x, identity_lut(17).expand(2, 3, -1)), x, atol=1e-6)
    lut = torch.rand(1, 3, 5**3)
    nodes = torch.tensor([[0.0, 0.25, 1.0], [0.5, 1.0, 0.75]]).T.reshape(1, 3, 1, 2)  # (r, g, b) per pixel
    out = apply_lut(nodes, lut)[0, :, 0]
    for pixel, (r, g, b) in enumerate(((0, 1, 4), (2, 4, 3))):
        assert torch.allclose(out[:, pixel], lut[0, :, (r * 5 + g) * 5 + b])


@pytest.mark.unit
def test_untrained_looknet_is_the_identity_and_strength_zero_is_exact(photo: np.ndarray) -> None:
    graph = LooksGraph(LookNet(templates=len(TEMPLATE_NAMES)).eval())
    pixels = torch.from_numpy(np.stack([photo, photo[::-1]]))
    template = torch.tensor([[0], [len(TEMPLATE_NAMES) - 1]], dtype=torch.int32)
    with torch.inference_mode():
        assert torch.equal(graph(pixels, template, torch.ones(2, 1)), pixels)  # identity LUT, weight 1
        trained_like = LooksGraph(_noisy_looknet(templates=len(TEMPLATE_NAMES)))
        assert torch.equal(trained_like(pixels, template, torch.zeros(2, 1)), pixels)


@pytest.mark.build
def test_onnx_export_matches_torch_on_a_batch_of_mixed_looks(tmp_path: Path) -> None:
    graph = LooksGraph(_noisy_looknet(templates=12, basis=3, size=9, width=8))
    names = (contract.PIXELS.name, contract.TEMPLATE.name, contract.STRENGTH.name)
    path = tmp_path / "looks.onnx"
    export_looks_onnx(graph, path, names, contract.RESTORED.name)
    parity = verify_onnx(graph, path, looks_parity_samples(12))
    assert parity.max_abs_diff <= 1
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == list(names)
    assert [o.name for o in session.get_outputs()] == [contract.RESTORED.name]


@pytest.mark.build
def test_onnx_export_of_looks_pushed_apart_matches_torch(tmp_path: Path) -> None:
    """Every look pushed from its nearest (a margin no pair reaches): the push's operators export and match torch."""
    model = LookNet(templates=12, basis=3, size=9, width=8).eval()
    with torch.no_grad():  # each look: the photo plus a small colour field of its own (none clips to white)
        model.luts[:, 1] = torch.randn(12, 3, 9**3, generator=torch.Generator().manual_seed(0)) * 0.01
        model.weights.bias.view(12, 3)[:, 1] = 1.0
    graph = LooksGraph(model)
    graph.model.push_apart = replace(graph.model.push_apart, margin=50.0)
    names = (contract.PIXELS.name, contract.TEMPLATE.name, contract.STRENGTH.name)
    path = tmp_path / "looks.onnx"
    export_looks_onnx(graph, path, names, contract.RESTORED.name)
    samples = looks_parity_samples(12)
    parity = verify_onnx(graph, path, samples)
    assert parity.max_abs_diff <= 1
    pixels, template, strength = (torch.from_numpy(a) for a in samples[0])
    with torch.inference_mode():
        pushed = graph(pixels, template, strength)
        graph.model.push_apart = PUSH_OFF
        assert (graph(pixels, template, strength).int() - pushed.int()).abs().max() > 2  # the push did something


@pytest.mark.unit
def test_the_correction_folded_into_the_looks_lut_is_the_correction_added_after_it() -> None:
    """One lookup a pixel: the push's correction, re-indexed through the inverse of the look's input curve and added
    to the look's LUT, gives what adding it after the look gives, up to the lattice's interpolation."""
    model = LookNet(templates=2, basis=1, size=17, width=8)  # the served lattice
    r, g, b = identity_lut(17)  # a correction is a difference of two looks: smooth over the colour cube
    correction = 0.05 * torch.stack((torch.sin(3.0 * r) * g, b * b - r, g - 0.5 * b)).unsqueeze(0)
    assert torch.allclose(model.curved_correction(correction, torch.zeros(1, CURVE)), correction, atol=1e-3)
    curve = torch.tensor([[0.1, -0.05, 0.0, 0.02, 0.0, -0.01, 0.15]])  # log gains, offsets, log gamma
    look = identity_lut(17).unsqueeze(0) * 0.9 + 0.05
    # Colours the curve does not clip (there the look is flat and the folded correction with it).
    colours = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(1)) * 0.8 + 0.05
    curved = model.pre_curve(colours, curve)
    after = apply_lut(curved, look) + apply_lut(colours, correction)
    folded = apply_lut(curved, look + model.curved_correction(correction, curve))
    assert (folded - after).abs().max() < 0.01 * correction.abs().max()  # the correction's interpolation only


@pytest.mark.unit
def test_refined_push_raises_only_the_pushes_the_clip_cut_short() -> None:
    from lumaflow.build.arch.lut_push import refined_push

    push, distance = torch.tensor([[0.2, 0.2, 0.2, 0.0]]), torch.tensor([[2.0, 2.0, 2.0, 5.0]])
    aim = push * distance  # 0.4 CIEDE2000 further from each, had nothing clipped
    achieved = torch.tensor([[2.4, 2.2, 2.9, 5.0]])  # as aimed; half of it; more than aimed; no push
    assert torch.allclose(refined_push(push, aim, distance, achieved), torch.tensor([[0.2, 0.4, 0.2, 0.0]]))
    lost = refined_push(push, aim, distance, torch.tensor([[1.9, 2.0, 2.05, 5.0]]))  # none or less gained
    assert torch.allclose(lost, torch.tensor([[0.8, 0.8, 0.8, 0.0]]))  # a gain under a quarter counts as a quarter


def _fixed_looks(first: tuple[float, float], second: tuple[float, float], pivot: float = 0.0) -> LookNet:
    """Four looks, each one fixed LUT, (x - pivot) x gain + pivot + offset: the ``first`` and ``second`` (gain,
    offset), near each other, then two far looks."""
    from lumaflow.build.arch.lut import LUT_GAIN

    model = LookNet(templates=4, basis=2, size=9, width=8).eval()
    with torch.no_grad():
        for look, (gain, offset) in enumerate([first, second, (0.5, 0.0), (0.5, 0.3)]):
            model.luts[look, 0] = ((identity_lut(9) - pivot) * gain + pivot + offset) / LUT_GAIN
    return model


@pytest.mark.unit
@pytest.mark.parametrize(("offsets", "spread", "farther"), [((0.2, 0.17), 20, True), ((0.16, 0.13), 12, False)])
def test_second_pass_pushes_further_only_where_the_clip_took_some_back(
    offsets: tuple[float, float], spread: float, farther: bool
) -> None:
    """Two bright looks 2-3 CIEDE2000 apart on a light photo: where the first look clips at white, the push's second
    pass (measured after the clip) takes the pair further apart; where neither clips it changes nothing."""
    model = _fixed_looks((0.9, offsets[0]), (0.9, offsets[1]))  # bright: 0.9 x + offset
    # the second pass alone (the darkening after it has its own test)
    model.push_apart = replace(model.push_apart, darkest=1.0)
    photo = np.clip(np.random.default_rng(0).normal(225, spread, (64, 64, 3)), 0, 255).astype(np.uint8)
    apart = {}
    for passes in (1, 2):
        model.push_apart = replace(model.push_apart, passes=passes)
        apart[passes] = delta_e(stylize(model, photo, 0), stylize(model, photo, 1))
    model.push_apart = replace(model.push_apart, margin=0.0)
    assert delta_e(stylize(model, photo, 0), stylize(model, photo, 1)) < 3.0 < apart[1]  # the first pass pushed
    assert apart[2] > apart[1] + 0.1 if farther else apart[2] == apart[1]


def _two_saturated_looks() -> tuple[LookNet, np.ndarray]:
    """Four looks (two that drive saturated colours past the gamut's edge, one a little lighter than the other, and
    two far ones), and a photo of saturated reds to yellows on which the first two clip R at 1 and B at 0."""
    model = _fixed_looks((1.8, 0.05), (1.8, 0.035), pivot=0.5)
    photo = np.zeros((64, 64, 3), np.uint8)
    photo[..., 0] = 230
    photo[..., 1] = np.linspace(40, 200, 64).astype(np.uint8)[None, :]
    photo[..., 2] = np.linspace(0, 40, 64).astype(np.uint8)[:, None]
    return model, photo


@pytest.mark.unit
def test_the_darker_of_a_pair_the_clip_holds_together_is_darkened() -> None:
    """Two looks that drive a saturated photo past the gamut's edge, one a little lighter: the push along their
    difference is clipped away, so the darker look is darkened (inside the gamut) until the pair is apart; the
    lighter one is left as it was (brightening would clip too), and with ``PushApart.darkest`` 1 nothing darkens."""
    from lumaflow.build.arch.lut_push import darkening_target

    model, photo = _two_saturated_looks()
    outputs = {}
    for darkest in (1.0, 0.9):
        model.push_apart = replace(model.push_apart, darkest=darkest)
        outputs[darkest] = (stylize(model, photo, 0), stylize(model, photo, 1))
    (lighter_before, darker_before), (lighter_after, darker_after) = outputs[1.0], outputs[0.9]
    assert delta_e(lighter_before, darker_before) < 3.0 <= delta_e(lighter_after, darker_after)
    assert np.array_equal(lighter_after, lighter_before)
    assert darker_after.astype(int).sum() < darker_before.astype(int).sum()
    # The target: a pair whose pushes reach the margin between them (each gaining half the gap) is left alone; one
    # the clip held to half of that, the darker look takes to the margin less its own gain; the lighter, never.
    distance, margin = torch.tensor([[2.0, 2.0, 2.0]]), 3.3
    achieved = torch.tensor([[2.65, 2.3, 2.3]])
    darker = torch.tensor([[True, True, False]])
    assert torch.allclose(darkening_target(margin, distance, achieved, darker), torch.tensor([[0.0, 3.0, 0.0]]))


@pytest.mark.build
def test_onnx_export_of_a_darkened_look_matches_torch(tmp_path: Path) -> None:
    """The darkening's operators export and match torch, on a batch where one look is darkened and one is not."""
    model, photo = _two_saturated_looks()
    graph = LooksGraph(model)
    names = (contract.PIXELS.name, contract.TEMPLATE.name, contract.STRENGTH.name)
    path = tmp_path / "looks.onnx"
    export_looks_onnx(graph, path, names, contract.RESTORED.name)
    samples = [
        (np.stack([part, part]), np.array([[0], [1]], np.int32), np.ones((2, 1), np.float32))
        for part in (photo, np.ascontiguousarray(photo[:48, 8:]))  # two sizes: the dynamic axes are checked too
    ]
    assert verify_onnx(graph, path, samples).max_abs_diff <= 1
    pixels, template, strength = (torch.from_numpy(a) for a in samples[0])
    with torch.inference_mode():
        served = graph(pixels, template, strength)
        model.push_apart = replace(model.push_apart, darkest=1.0)
        undarkened = graph(pixels, template, strength)
    assert torch.equal(served[0], undarkened[0]) and served[1].sum() < undarkened[1].sum()


@pytest.mark.build
def test_build_artifact_exports_a_looks_stage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lumaflow.build import repository
    from lumaflow.build.artifacts import save_state_dict

    save_state_dict(_noisy_looknet(size=9, width=8).state_dict(), tmp_path / "looks.pt")
    monkeypatch.setattr(repository, "WEIGHTS_DIR", tmp_path)
    stage = Stage(
        name="looks",
        doc="stylize",
        inputs=(contract.PIXELS, contract.TEMPLATE, contract.STRENGTH),
        outputs=(contract.RESTORED,),
        max_batch_size=4,
        dynamic_batching=None,
        network=Network(architecture="lut", weights="looks.pt"),
    )
    artifact = repository.Artifact(stage, stage.network, tmp_path / "repo")  # type: ignore[arg-type]
    record = repository.build_artifact(artifact)
    assert artifact.onnx_path.is_file() and record["parity_max_abs_diff"] <= 1  # type: ignore[operator]


# --- the committed weights ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def committed() -> LookNet:
    path = WEIGHTS_DIR / "looks.pt"
    if not path.is_file():
        pytest.fail(f"{path} is missing: train it with `lumaflow train looks`")
    model = load_file(str(path)).model
    assert isinstance(model, LookNet)
    return model


@pytest.mark.build
def test_committed_looks_differ_from_each_other_by_at_least_3_delta_e(committed: LookNet, photo: np.ndarray) -> None:
    from lumaflow.build.looks_eval import MIN_PAIR, pairwise_distances

    figures = pairwise_distances(committed, {"astronaut": photo})
    assert figures["pairs_below"]["count"] == 0, figures["closest"][:5]
    assert figures["closest"][0]["delta_e"] >= MIN_PAIR


@pytest.mark.build
def test_served_push_keeps_apart_two_looks_the_network_merges_on_a_validation_photo(committed: LookNet) -> None:
    """On Wood (validation) the network renders polaroid_80s and summer_bright 2.37 CIEDE2000 apart (issue 30 asks
    for 3): the push (``LookNet.separation``) takes them past 3, and changes no look it need not (rocket)."""
    from lumaflow.build.looks import separate
    from lumaflow.build.looks_eval import DISTINCT_LONG_SIDE, MIN_PAIR
    from lumaflow.build.photo_sets import by_name, load

    first, second = TEMPLATE_NAMES.index("polaroid_80s"), TEMPLATE_NAMES.index("summer_bright")
    wood = resize_long_side(load(by_name("Wood")), DISTINCT_LONG_SIDE)
    served = committed.push_apart
    try:
        apart = delta_e(stylize(committed, wood, first), stylize(committed, wood, second))
        separate(committed, PUSH_OFF)
        merged = delta_e(stylize(committed, wood, first), stylize(committed, wood, second))
        rocket = resize_long_side(load(by_name("rocket")), DISTINCT_LONG_SIDE)
        unpushed = stylize(committed, rocket, first)
    finally:
        separate(committed, served)
    assert merged == pytest.approx(2.37, abs=0.05) and apart >= MIN_PAIR
    assert np.array_equal(stylize(committed, rocket, first), unpushed)


# Looks the committed network renders further from their grading than the photo itself, on this photo: the
# measured ratio, as a ceiling (autumn_gold 6.23 against 5.54, a mild grading there that the network over-applies;
# the networks before it were at 5.98, 7.12 and 5.53). docs/quality.md reports it.
KNOWN_SHORTFALLS = {"autumn_gold": 1.15}


@pytest.mark.build
def test_committed_weights_beat_the_ungraded_photo_for_every_look(committed: LookNet, photo: np.ndarray) -> None:
    ours, ungraded = [], []
    for index, name in enumerate(TEMPLATE_NAMES):
        target = grade(photo, name)
        ours.append(delta_e(stylize(committed, photo, index), target))
        ungraded.append(delta_e(photo, target))
        ceiling = KNOWN_SHORTFALLS.get(name, 1.0)
        assert ours[-1] < ceiling * ungraded[-1], name
        assert name not in KNOWN_SHORTFALLS or ours[-1] > ungraded[-1], f"{name} beats the photo now: drop it"
    assert np.mean(ours) < 0.5 * np.mean(ungraded)


@pytest.mark.build
def test_committed_weights_score_what_the_manifest_reports() -> None:
    """The validation figures recorded with the weights (4 photos at 256 px) are what the weights give now."""
    import json

    from lumaflow.build.looks_eval import MIN_GAIN, evaluate_looks

    recorded = json.loads((WEIGHTS_DIR / "manifest.json").read_text())["networks"]["looks"]["eval"]
    figures = evaluate_looks(load_file(str(WEIGHTS_DIR / "looks.pt"))).as_dict()
    for method in ("model", "fixed_lut", "gain"):
        assert figures["mean"][method] == pytest.approx(recorded["mean"][method], abs=0.05), method
    assert figures["mean"]["gain"] >= MIN_GAIN


@pytest.mark.build
def test_the_reported_test_set_figures_hold() -> None:
    """docs/quality.md's per-look table (docs/quality/looks-test.json) recomputed on the same test photos."""
    import json

    from lumaflow.build.looks_eval import MIN_GAIN, evaluate_looks
    from lumaflow.build.photo_sets import load_set

    reported = json.loads((Path(__file__).resolve().parents[1] / "docs" / "quality" / "looks-test.json").read_text())
    photos = load_set("test")
    assert list(photos) == reported["photos"] and len(photos) >= 24
    now = evaluate_looks(load_file(str(WEIGHTS_DIR / "looks.pt")), photos).as_dict()
    for method in ("model", "fixed_lut", "gain"):
        assert now["mean"][method] == pytest.approx(reported["mean"][method], abs=0.3), method
    gaining = [name for name, s in now["looks"].items() if s["gain"] >= MIN_GAIN]
    assert len(gaining) == pytest.approx(len(TEMPLATE_NAMES) * reported["looks_gaining_at_least"]["share"], abs=2)


@pytest.mark.unit
@pytest.mark.parametrize("option", [["--scales", "0.5"], ["--wallpapers", "/tmp"]])
def test_training_the_looks_refuses_the_wallpaper_options_it_would_ignore(option: list[str]) -> None:
    """The looks learn from the train photo set at fixed long sides: a wallpaper folder or scales would be ignored."""
    from lumaflow.build.recipes import RECIPES
    from lumaflow.build.training import parse_args

    with pytest.raises(SystemExit):
        parse_args(RECIPES["looks"], option)
    assert parse_args(RECIPES["looks"], []).scales == ",".join(map(str, RECIPES["looks"].scales))

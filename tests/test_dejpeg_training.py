"""The de-JPEG training's GPU path: time-based schedule, worker-fed batches, the packed train set, and adopting
weights trained elsewhere (continued from the served ones) with their history in the manifest."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from lumaflow.build.arch.dejpeg import DejpegRestorer
from lumaflow.build.artifacts import sha256_file
from lumaflow.build.dejpeg_data import DejpegBatches, DejpegSampler
from lumaflow.build.photo_pack import unpack
from lumaflow.build.train_dejpeg import _progress, cosine_lr, load_init, parse_args
from lumaflow.build.train_dejpeg import main as train_dejpeg


def _photos(count: int = 3, side: int = 80) -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    return [rng.integers(0, 256, (side, side + 8 * i, 3), dtype=np.uint8) for i in range(count)]


@pytest.mark.unit
def test_cosine_lr_runs_from_the_peak_to_one_percent_and_clamps() -> None:
    assert cosine_lr(1e-3, 0.0) == pytest.approx(1e-3)
    assert cosine_lr(1e-3, 0.5) == pytest.approx((1e-3 + 1e-5) / 2)
    assert cosine_lr(1e-3, 1.0) == pytest.approx(1e-5)
    assert cosine_lr(1e-3, 7.0) == pytest.approx(1e-5) and cosine_lr(1e-3, -1.0) == pytest.approx(1e-3)


@pytest.mark.unit
def test_load_init_appends_low_convs_as_identities_and_refuses_other_shapes() -> None:
    torch.manual_seed(0)
    shallow = DejpegRestorer(features=8, low_features=16, low=2)
    deep = DejpegRestorer(features=8, low_features=16, low=4)
    assert load_init(deep, shallow.state_dict()) == 2
    for key, value in shallow.state_dict().items():
        assert torch.equal(deep.state_dict()[key], value), key
    centre = torch.zeros(3, 3)
    centre[1, 1] = 1.0
    for conv in deep.low[2:]:
        assert torch.equal(conv.weight, torch.eye(16)[:, :, None, None] * centre) and not conv.bias.any()
    assert load_init(DejpegRestorer(features=8, low_features=16, low=2), shallow.state_dict()) == 0
    with pytest.raises(RuntimeError, match="size mismatch"):
        load_init(DejpegRestorer(features=12, low_features=16, low=2), shallow.state_dict())
    with pytest.raises(ValueError, match="do not fit"):
        load_init(DejpegRestorer(features=8, low_features=16, low=1), shallow.state_dict())


@pytest.mark.unit
def test_progress_is_by_steps_or_by_time_with_minutes() -> None:
    by_steps = parse_args(["--steps", "100"])
    assert _progress(by_steps, 1, 999.0) == 0.0 and _progress(by_steps, 51, 0.0) == pytest.approx(0.5)
    by_time = parse_args(["--minutes", "2"])
    assert _progress(by_time, 10_000, 60.0) == pytest.approx(0.5)
    with pytest.raises(SystemExit):
        parse_args(["--minutes", "0"])


@pytest.mark.unit
def test_without_workers_the_batches_are_the_single_process_samplers() -> None:
    """``num_workers=0`` keeps the CPU recipe's stream: the sampler seeded with the run's seed, in order."""
    photos = _photos()
    loader = torch.utils.data.DataLoader(DejpegBatches(photos, 32, 4, seed=5), batch_size=None, num_workers=0)
    sampler = DejpegSampler(photos, 32, np.random.default_rng(5))
    for ((x, q), target), _ in zip(loader, range(3), strict=False):
        (x_ref, q_ref), target_ref = sampler.batch(4)
        assert torch.equal(x, x_ref) and torch.equal(q, q_ref) and torch.equal(target, target_ref)


@pytest.mark.build  # worker processes talk over a local socket, which the unit tier forbids
def test_each_worker_draws_its_own_patches() -> None:
    loader = torch.utils.data.DataLoader(DejpegBatches(_photos(), 32, 2, seed=0), batch_size=None, num_workers=2)
    batches = [batch for batch, _ in zip(loader, range(2), strict=False)]  # one from each worker, in turn
    ((x0, q0), t0), ((_, q1), t1) = batches
    assert x0.shape == t0.shape == (2, 3, 32, 32) and q0.shape == (2, 1)
    assert not torch.equal(t0, t1)
    assert bool(((q0 >= 10) & (q0 <= 90)).all()) and bool(((q1 >= 10) & (q1 <= 90)).all())


@pytest.mark.unit
def test_a_packed_set_unpacks_to_the_same_arrays_in_order(tmp_path: Path) -> None:
    photos = {f"p{i}": photo for i, photo in enumerate(_photos())}
    np.savez_compressed(tmp_path / "set.npz", **photos)
    unpacked = unpack(tmp_path / "set.npz")
    assert list(unpacked) == list(photos)
    for name, photo in photos.items():
        assert np.array_equal(unpacked[name], photo) and unpacked[name].dtype == np.uint8


@pytest.mark.build
def test_weights_trained_elsewhere_are_adopted_with_their_history(tmp_path: Path) -> None:
    """A smoke network served, then continued (``--init``, ``--train-only``, as on the GPU), then adopted with
    ``--continued-from``: the manifest lists both runs, and refuses weights its folder does not describe."""
    first, later, served = tmp_path / "first", tmp_path / "later", tmp_path / "served"
    assert train_dejpeg(["--smoke", "--steps", "2", "--out", str(first)]) == 0
    init = str(first / "dejpeg.pt")
    assert train_dejpeg(["--smoke", "--steps", "3", "--init", init, "--train-only", "--out", str(later)]) == 0
    assert not (later / "manifest.json").exists()
    adopt = ["--smoke", "--adopt", str(later / "dejpeg_q.pt"), "--out", str(served)]
    assert train_dejpeg([*adopt, "--continued-from", init]) == 0
    entry = json.loads((served / "manifest.json").read_text())["networks"]["dejpeg"]
    assert entry["sha256"] == sha256_file(served / "dejpeg.pt")
    assert [run["steps"] for run in entry["training"]["runs"]] == [2, 3] and entry["training"]["steps"] == 5
    assert entry["training"]["smoke"] is True and entry["eval"]
    with pytest.raises(SystemExit, match="not the network"):
        train_dejpeg([*adopt, "--continued-from", str(later / "dejpeg_q.pt")])

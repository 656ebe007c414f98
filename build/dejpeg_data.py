"""Training data of the quality-conditioned de-JPEG network: JPEG patches and the quality read back from them.

The network is told the quality a file was saved at, and at serving time that number comes from the file's
quantisation tables (``lumaflow.runtime.jpeg_quality``), so training reads it back the same way rather than
passing on the number it drew: what the network learns to trust is what it will be given.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image

from lumaflow.build.sr_data import Pair, PatchSampler, make_pairs
from lumaflow.runtime.jpeg_quality import estimate_jpeg_quality

QUALITY_RANGE = (10, 90)  # uniform per patch, both ends included
SCALES = (1.0, 0.6)  # source scales of each training photo (Lanczos; 0.6 packs more detail per pixel)


def jpeg_with_quality(image: np.ndarray, quality: int) -> tuple[np.ndarray, float]:
    """Pillow JPEG 4:2:0 at ``quality``, decoded, and the quality read back from the file's tables."""
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=int(quality), subsampling=2)
    buf.seek(0)
    with Image.open(buf) as decoded:
        read_back = estimate_jpeg_quality(decoded.quantization)
        return np.asarray(decoded.convert("RGB")), read_back


def random_jpeg_with_quality(
    image: np.ndarray, rng: np.random.Generator, low: int = QUALITY_RANGE[0], high: int = QUALITY_RANGE[1]
) -> tuple[np.ndarray, float]:
    """JPEG at a quality drawn uniformly in [low, high]; returns the decoded image and the read-back quality."""
    return jpeg_with_quality(image, int(rng.integers(low, high + 1)))


class DejpegSampler:
    """Batches ((JPEG patch, quality [N, 1]), clean patch): aligned random crops, flips and rotations first,
    then each patch compressed on its own (its JPEG grid starts at its corner), flat patches mostly skipped."""

    def __init__(
        self,
        photos: Sequence[np.ndarray],
        patch: int,
        rng: np.random.Generator,
        *,
        scales: Sequence[float] = SCALES,
        quality_range: tuple[int, int] = QUALITY_RANGE,
    ) -> None:
        pairs: list[Pair] = make_pairs(photos, scales, factor=1)
        self.patches = PatchSampler(pairs, patch, rng, factor=1)  # no degrade: done here, with the quality
        self.rng = rng
        self.quality_range = quality_range

    def batch(self, n: int) -> tuple[tuple[torch.Tensor, torch.Tensor], torch.Tensor]:
        inputs, targets, qualities = [], [], []
        for _ in range(n):
            _, clean = self.patches._one()
            clean = np.ascontiguousarray(clean)
            degraded, quality = random_jpeg_with_quality(clean, self.rng, *self.quality_range)
            inputs.append(degraded)
            targets.append(clean)
            qualities.append(quality)
        q = torch.tensor(qualities, dtype=torch.float32).view(n, 1)
        return (_to_tensor(inputs), q), _to_tensor(targets)


def _to_tensor(images: Sequence[np.ndarray]) -> torch.Tensor:
    stacked = np.ascontiguousarray(np.stack(images).transpose(0, 3, 1, 2))
    return torch.from_numpy(stacked).to(torch.float32).div_(255.0)


class DejpegBatches(torch.utils.data.IterableDataset):  # type: ignore[type-arg]
    """Endless `DejpegSampler` batches, for a `torch.utils.data.DataLoader` with worker processes.

    A GPU steps faster than one process can JPEG-compress patches, so each worker runs its own sampler, seeded
    ``seed + 1000 * (worker id + 1)``. With no workers (``num_workers=0``) the sampler is seeded ``seed``, which
    is exactly the single-process loop the CPU recipe has always run.
    """

    def __init__(
        self,
        photos: Sequence[np.ndarray],
        patch: int,
        batch_size: int,
        seed: int,
        *,
        scales: Sequence[float] = SCALES,
        quality_range: tuple[int, int] = QUALITY_RANGE,
    ) -> None:
        super().__init__()
        self.photos, self.patch, self.batch_size, self.seed = photos, patch, batch_size, seed
        self.scales, self.quality_range = tuple(scales), quality_range

    def __iter__(self):  # type: ignore[no-untyped-def]
        info = torch.utils.data.get_worker_info()
        seed = self.seed if info is None else self.seed + 1000 * (info.id + 1)
        sampler = DejpegSampler(
            self.photos, self.patch, np.random.default_rng(seed), scales=self.scales, quality_range=self.quality_range
        )
        while True:
            yield sampler.batch(self.batch_size)

"""A classical estimate of Gaussian noise: the baseline the analysis network replaced in ``denoise``.

Donoho's rule on the finest diagonal wavelet band: in a natural photo that band is mostly noise,
so ``median(|HH|) / 0.6745`` estimates the noise's standard deviation. The Haar band is cheap (one
pass over 2x2 blocks) and its bias on textured photos is small next to the range of
noise levels a denoiser distinguishes.
"""

from __future__ import annotations

import numpy as np

GAUSSIAN_MAD = 0.6744897501960817  # the median of |N(0, 1)|
SAMPLE_SIDE = 1024
MIN_BLOCKS = 16


def estimate_noise_sigma(pixels: np.ndarray) -> float:
    """σ of additive Gaussian noise in uint8 HWC pixels, on the 0-255 scale: the mean of each channel's.

    Per channel, not on luma: luma averages the channels, which would shrink independent
    per-channel noise by a third.
    """
    top, left = max(0, (pixels.shape[0] - SAMPLE_SIDE) // 2), max(0, (pixels.shape[1] - SAMPLE_SIDE) // 2)
    sample = pixels[top : top + SAMPLE_SIDE, left : left + SAMPLE_SIDE]  # the centre is enough, and fast
    height, width = (sample.shape[0] // 2) * 2, (sample.shape[1] // 2) * 2
    if height < 2 or width < 2:
        return 0.0
    blocks = sample[:height, :width]
    corners = (blocks[0::2, 0::2], blocks[0::2, 1::2], blocks[1::2, 0::2], blocks[1::2, 1::2])
    a, b, c, d = (corner.astype(np.float32) for corner in corners)
    diagonal = ((a - b - c + d) / 2).reshape(-1, pixels.shape[2])
    # Noise is clipped at 0 and 255, which hides it: leave out blocks that touch either end.
    unclipped = np.all([(corner > 0) & (corner < 255) for corner in corners], axis=0).reshape(-1, pixels.shape[2])
    sigmas = [
        float(np.median(np.abs(diagonal[unclipped[:, channel], channel]))) / GAUSSIAN_MAD
        for channel in range(pixels.shape[2])
        if unclipped[:, channel].sum() >= MIN_BLOCKS
    ]
    return float(np.mean(sigmas)) if sigmas else 0.0

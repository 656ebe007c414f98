"""Big photos end to end (slow: run by hand with -m slow, figures go in the issue's closing note)."""

from __future__ import annotations

import io
import time

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from PIL import Image

from lumaflow.build.photos import MissingPhotosError, load_rgb, wallpaper_photo_paths
from lumaflow.loadtest.memory import PeakMemory
from tests.fixtures import encode, enhance

MEMORY_LIMIT = 4 * 1024**3


@pytest.mark.slow
def test_a_12_megapixel_jpeg_through_upscale_x2_stays_under_4_gb(
    client: grpcclient.InferenceServerClient, server
) -> None:
    try:  # a real 2560x1600 photo (memory, not quality, is measured here), enlarged to 4000x3000
        photo = load_rgb(wallpaper_photo_paths()[0])
    except MissingPhotosError as missing:
        pytest.skip(str(missing))
    big = np.asarray(Image.fromarray(photo).resize((4000, 3000), Image.Resampling.LANCZOS))
    data = encode(big, "JPEG", quality=90)
    started = time.perf_counter()
    with PeakMemory(server.pid) as memory:
        enhanced, info = enhance(client, data, "upscale_x2", timeout_s=3600)
    seconds = time.perf_counter() - started
    with Image.open(io.BytesIO(enhanced)) as out:
        assert out.size == (8000, 6000)
    print(
        f"\n12 MP upscale_x2: {seconds:.0f} s, peak PSS of tritonserver + stubs {memory.peak / 2**30:.2f} GiB "
        f"(idle {memory.baseline / 2**30:.2f} GiB), timings {info['timings_ms']}"
    )
    assert memory.peak < MEMORY_LIMIT


@pytest.mark.slow
def test_realesrgan_tiles_agree_with_untiled_beyond_its_context(client: grpcclient.InferenceServerClient) -> None:
    """Real-ESRGAN sees further than its 32 px of context: measure how far tiled output moves from untiled."""
    from skimage import data as skdata

    from lumaflow.build.eval import rgb_psnr
    from lumaflow.build.evaluate import run_offline
    from lumaflow.ensemble.pipelines import PIPELINES
    from tests.fixtures import decode

    photo = np.asarray(skdata.coffee(), dtype=np.uint8)[:400, :500]  # 2 x 2 tiles of 384 with 32 px context
    data = encode(photo)
    served, _ = enhance(client, data, "upscale_x4_realistic", timeout_s=1800)
    untiled = run_offline(PIPELINES["upscale_x4_realistic"], data, {}, untiled=True)
    psnr = rgb_psnr(decode(served), untiled)
    print(f"\nupscale_x4_realistic tiled vs untiled on a 500x400 photo: {psnr:.2f} dB")
    assert psnr >= 40.0

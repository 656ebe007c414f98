"""What the understanding networks cost when served: the quality check, the analysis, the router, inpainting.

On one real tritonserver, sequential requests (one at a time, so latencies are the work itself):

- **quality check**: median latency of a pipeline with OPTIONS ``quality_check`` on and off (ratio);
- **analysis**: ``denoise`` with the noise level given against left to the analysis network;
- **router**: ``photo_enhance`` on a blocky JPEG (it routes to ``deblock``) against ``dejpeg`` itself;
- **inpaint, large photo**: a 4000x3000 photo with a small mask: latency and how many of its tiles
  reached the network.

    python -m lumaflow.bench.understanding --out bench-results/understanding.json
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import tritonclient.grpc as grpcclient
from PIL import Image

from lumaflow.client.protocol import photo_inputs
from lumaflow.ensemble.stages import INPAINT
from lumaflow.loadtest.report import write_json
from lumaflow.loadtest.stats import model_counts
from lumaflow.runtime import tiling
from lumaflow.server.process import running_server


def _encode(pixels: np.ndarray, fmt: str = "PNG", **options: Any) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _photo(width: int, height: int) -> np.ndarray:
    from skimage import data

    return np.asarray(Image.fromarray(data.astronaut()).resize((width, height), Image.Resampling.LANCZOS))


def _once(
    client: grpcclient.InferenceServerClient, pipeline: str, data: bytes, options: dict, mask: bytes | None
) -> float:
    inputs = photo_inputs(data, options, mask)
    started = time.perf_counter()
    client.infer(pipeline, inputs, client_timeout=3600)
    return (time.perf_counter() - started) * 1e3


def median_ms(
    client: grpcclient.InferenceServerClient,
    pipeline: str,
    data: bytes,
    options: dict,
    repeats: int,
    mask: bytes | None = None,
) -> float:
    _once(client, pipeline, data, options, mask)  # the first call allocates; time the steady state
    return statistics.median(_once(client, pipeline, data, options, mask) for _ in range(repeats))


def main(argv: list[str] | None = None) -> int:
    from lumaflow.build.deploy import DEFAULT_REPOSITORY

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("bench-results/understanding.json"))
    args = parser.parse_args(argv)
    photo = _photo(512, 384)
    noisy = np.clip(photo + np.random.default_rng(0).normal(0, 15, photo.shape), 0, 255).astype(np.uint8)
    png, noisy_png, blocky = _encode(photo), _encode(noisy), _encode(photo, "JPEG", quality=15)
    rows: dict[str, dict[str, Any]] = {}
    repository = DEFAULT_REPOSITORY
    with running_server(repository) as server, grpcclient.InferenceServerClient(server.endpoints.grpc_url) as client:
        for pipeline, data in (("upscale_x2_fast", png), ("denoise", noisy_png), ("dejpeg", blocky)):
            on = median_ms(client, pipeline, data, {"noise_level": 15} if pipeline == "denoise" else {}, args.repeats)
            off_options = {"quality_check": False, **({"noise_level": 15} if pipeline == "denoise" else {})}
            off = median_ms(client, pipeline, data, off_options, args.repeats)
            rows[f"quality check, {pipeline} 512x384"] = {"with_ms": on, "without_ms": off, "ratio": on / off}
        given = median_ms(client, "denoise", noisy_png, {"noise_level": 15, "quality_check": False}, args.repeats)
        analysed = median_ms(client, "denoise", noisy_png, {"quality_check": False}, args.repeats)
        rows["analysis, denoise 512x384"] = {"with_ms": analysed, "without_ms": given, "ratio": analysed / given}
        routed = median_ms(client, "photo_enhance", blocky, {"quality_check": False}, args.repeats)
        direct = median_ms(client, "dejpeg", blocky, {"quality_check": False}, args.repeats)
        rows["router, photo_enhance vs dejpeg 512x384"] = {
            "with_ms": routed,
            "without_ms": direct,
            "ratio": routed / direct,
        }
        large = _photo(4000, 3000)
        mask = np.zeros(large.shape[:2], dtype=np.uint8)
        mask[1400:1480, 1900:2060] = 255
        data, mask_png = _encode(large, "JPEG", quality=92), _encode(mask)
        before, _ = model_counts(client, "gated_inpainter")
        seconds = _once(client, "inpaint", data, {"quality_check": False, "format": "jpeg"}, mask_png) / 1e3
        after, _ = model_counts(client, "gated_inpainter")
        tiles = INPAINT.tiling
        if tiles is None:
            raise RuntimeError("the inpaint stage declares no tiling")
        total = len(tiling.plan(3000, 4000, tiles.tile, tiles.context))
        rows["inpaint 4000x3000, 160x80 mask"] = {
            "seconds": seconds,
            "tiles_sent": after - before,
            "tiles_total": total,
        }
    report = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "gpu": None},
        "repeats": args.repeats,
        "rows": rows,
    }
    print(f"{'measurement':<44} {'with ms':>9} {'without ms':>10} {'ratio':>6}")
    for name, row in rows.items():
        if "ratio" in row:
            print(f"{name:<44} {row['with_ms']:>9.1f} {row['without_ms']:>10.1f} {row['ratio']:>6.2f}")
        else:
            print(
                f"{name:<44} {row['seconds']:.2f} s, {row['tiles_sent']} of {row['tiles_total']} tiles to the network"
            )
    write_json(args.out, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Capture what a running server answers for every photo and camera pipeline, to compare two versions of it.

A refactor that must not change behaviour is checked by capturing once from the server before and once
after, one request at a time, and comparing: the decoded ENHANCED pixels (sha256) and INFO without its
``timings_ms`` and ``version``. It speaks plain tritonclient, so it captures from any version's server.

    python -m lumaflow.bench.served_outputs capture 127.0.0.1:8001 before.json
    python -m lumaflow.bench.served_outputs compare before.json after.json
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import tritonclient.grpc as grpcclient
from PIL import Image

from lumaflow.build.photos import benchmark_photos

# (pipeline, case): the photo (a crop of a suite photo, encoded), OPTIONS, and whether a mask goes with it.
PHOTO_CASES: dict[str, tuple[str, ...]] = {
    "upscale_x2": ("small", "tiled", "jpeg_q30"),
    "upscale_x2_fast": ("small", "tiled"),
    "upscale_x4": ("small", "tiled"),
    "upscale_x4_fast": ("small", "tiled"),
    "upscale_x4_realistic": ("small",),
    "upscale_x8": ("small",),
    "denoise": ("noisy", "noisy_sigma", "tiled"),
    "dejpeg": ("jpeg_q30", "tiled"),
    "dejpeg_waifu2x": ("jpeg_q30",),
    "lowlight": ("dark", "small"),
    "inpaint": ("masked",),
    "photo_enhance": ("noisy", "jpeg_q30", "dark", "portrait", "no_check"),
    "old_photo": ("grey", "small"),
    "stylize": ("warm", "mono"),
}
CAMERA_PIPELINES = ("camera_x2", "camera_x2_int8", "camera_x1")


def _encoded(pixels: np.ndarray, fmt: str = "PNG", **options: Any) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt, **options)
    return buffer.getvalue()


def cases() -> dict[str, tuple[bytes, dict[str, Any], bytes | None]]:
    """Each case's IMAGE, OPTIONS and MASK, from scikit-image's astronaut and sporco's monarch and kodim23."""
    photos = benchmark_photos(("astronaut", "monarch", "kodim23"))
    astronaut, monarch, kodim = photos["astronaut"], photos["monarch"], photos["kodim23"]
    small = astronaut[60:252, 120:376]  # 256x192: one bucket-padded piece
    noisy = astronaut[100:292, 150:406].astype(np.float32) + np.random.default_rng(7).normal(0, 20, (192, 256, 3))
    noisy_png = _encoded(np.clip(noisy, 0, 255).astype(np.uint8))
    mask = np.zeros((192, 256), np.uint8)
    mask[80:120, 100:150] = 255
    grey = np.asarray(Image.fromarray(kodim[:240, :320]).convert("L").convert("RGB"))
    return {
        "small": (_encoded(small), {}, None),
        "tiled": (_encoded(monarch[:384, :512]), {}, None),  # 512x384: larger than a tile
        "jpeg_q30": (_encoded(kodim[:192, :256], "JPEG", quality=30), {}, None),
        "noisy": (noisy_png, {}, None),
        "noisy_sigma": (noisy_png, {"noise_level": 20}, None),
        "dark": (_encoded((small.astype(np.float32) * 0.25).astype(np.uint8)), {}, None),
        "grey": (_encoded(grey), {}, None),
        "masked": (_encoded(small), {}, _encoded(mask)),
        "portrait": (_encoded(small), {"preset": "portrait"}, None),
        "no_check": (noisy_png, {"quality_check": False, "scale": 2, "fast": True}, None),
        "warm": (_encoded(small), {"template": "warm_film", "strength": 0.7}, None),
        "mono": (_encoded(monarch[:384, :512]), {"template": "mono_classic"}, None),
    }


def _bytes_input(name: str, value: bytes) -> grpcclient.InferInput:
    tensor = grpcclient.InferInput(name, [1, 1], "BYTES")
    tensor.set_data_from_numpy(np.array([[value]], dtype=np.object_))
    return tensor


def capture(url: str) -> dict[str, Any]:
    """Every case through its pipeline and a frame through each camera pipeline, one request at a time."""
    inputs = cases()
    frame = benchmark_photos(("astronaut",))["astronaut"][100:340, 100:420]
    results: dict[str, Any] = {}
    with grpcclient.InferenceServerClient(url) as client:
        for pipeline, names in PHOTO_CASES.items():
            for name in names:
                image, options, mask = inputs[name]
                sent = [_bytes_input("IMAGE", image)]
                sent += [_bytes_input("MASK", mask)] if mask is not None else []
                sent += [_bytes_input("OPTIONS", json.dumps(options).encode())] if options else []
                answer = client.infer(pipeline, sent, client_timeout=900)
                pixels = np.asarray(Image.open(io.BytesIO(answer.as_numpy("ENHANCED")[0, 0])))
                info = json.loads(answer.as_numpy("INFO")[0, 0])
                info = {key: value for key, value in info.items() if key not in ("timings_ms", "version")}
                results[f"{pipeline}/{name}"] = {"sha256": _digest(pixels), "shape": list(pixels.shape), "info": info}
        for camera in CAMERA_PIPELINES:
            tensor = grpcclient.InferInput("FRAME", [1, *frame.shape], "UINT8")
            tensor.set_data_from_numpy(np.ascontiguousarray(frame[None]))
            pixels = client.infer(camera, [tensor], client_timeout=120).as_numpy("ENHANCED_FRAME")[0]
            results[f"{camera}/frame"] = {"sha256": _digest(pixels), "shape": list(pixels.shape)}
    return results


def _digest(pixels: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(pixels).tobytes()).hexdigest()


def compare(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """One line per pipeline (cases equal / cases), then one per case that differs."""
    lines, differing = [], []
    per_pipeline: dict[str, list[bool]] = {}
    for key in sorted(set(before) | set(after)):
        same = before.get(key) == after.get(key)
        per_pipeline.setdefault(key.split("/")[0], []).append(same)
        if not same:
            differing.append(f"differs: {key}")
    lines = [f"{pipeline}: {sum(equal)}/{len(equal)} equal" for pipeline, equal in per_pipeline.items()]
    return [*lines, *differing]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lumaflow.bench.served_outputs", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    taking = commands.add_parser("capture", help="capture from a running server")
    taking.add_argument("url")
    taking.add_argument("out", type=Path)
    comparing = commands.add_parser("compare", help="compare two captures")
    comparing.add_argument("before", type=Path)
    comparing.add_argument("after", type=Path)
    args = parser.parse_args(argv)
    if args.command == "capture":
        args.out.write_text(json.dumps(capture(args.url), indent=1, sort_keys=True) + "\n")
        print(f"wrote {args.out}")
        return 0
    report = compare(json.loads(args.before.read_text()), json.loads(args.after.read_text()))
    print("\n".join(report))
    return 1 if any(line.startswith("differs") for line in report) else 0


if __name__ == "__main__":
    sys.exit(main())

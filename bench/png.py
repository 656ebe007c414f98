"""``python -m lumaflow.bench.png``: the PNG writer encode uses, against Pillow's, on upscaled real photos.

Rows: Pillow's writer at compress level 1 (what encode used before ``lumaflow.runtime.png``) and at its default
6; the runtime's writer as served (Up filter, ISA-L level ``DEFLATE_LEVEL``); and the same rows deflated at ISA-L
levels 1-3 and by zlib at level 1, the candidates the level was chosen from. Each photo of the validation set's
scikit-image photos is doubled with Pillow's bicubic (an upscale's output size); the writers alternate in rounds,
and the median round is kept. Every PNG written is decoded and checked against the pixels.
"""

from __future__ import annotations

import argparse
import functools
import io
import statistics
import time
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from isal import isal_zlib
from PIL import Image

from lumaflow.bench.lean import PHOTOS
from lumaflow.loadtest.report import machine, write_json
from lumaflow.runtime.png import DEFLATE_LEVEL, filtered_rows, write_png

Writer = Callable[[np.ndarray], bytes]


def _pillow(level: int) -> Writer:
    def write(pixels: np.ndarray) -> bytes:
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="PNG", compress_level=level)
        return buffer.getvalue()

    return write


def _deflated(deflate: Callable[[np.ndarray], bytes]) -> Writer:
    """Only the runtime writer's filtered rows, deflated another way (a candidate, not a whole file)."""
    return lambda pixels: deflate(filtered_rows(pixels))


WRITERS: dict[str, Writer] = {
    "pillow level 1": _pillow(1),
    "pillow level 6": _pillow(6),
    f"lumaflow (Up, ISA-L {DEFLATE_LEVEL})": write_png,
    **{f"Up rows, ISA-L {level}": _deflated(functools.partial(isal_zlib.compress, level=level)) for level in (1, 2, 3)},
    "Up rows, zlib 1": _deflated(lambda rows: zlib.compress(rows.data, 1)),
}


def photos() -> dict[str, np.ndarray]:
    from skimage import data

    doubled = {}
    for name in PHOTOS:
        image = Image.fromarray(np.ascontiguousarray(getattr(data, name)())).convert("RGB")
        doubled[name] = np.asarray(image.resize((image.width * 2, image.height * 2), Image.Resampling.BICUBIC))
    return doubled


def measure(pixels: np.ndarray, rounds: int) -> dict[str, dict[str, float]]:
    """Per writer: median ms over ``rounds`` alternating rounds, and the output's KiB."""
    times: dict[str, list[float]] = {name: [] for name in WRITERS}
    sizes: dict[str, int] = {}
    for _ in range(rounds):
        for name, write in WRITERS.items():
            started = time.perf_counter()
            written = write(pixels)
            times[name].append((time.perf_counter() - started) * 1e3)
            sizes[name] = len(written)
    for name in ("pillow level 1", f"lumaflow (Up, ISA-L {DEFLATE_LEVEL})"):
        with Image.open(io.BytesIO(WRITERS[name](pixels))) as decoded:
            if not np.array_equal(np.asarray(decoded), pixels):
                raise AssertionError(f"{name} did not write the pixels it was given")
    return {
        name: {"ms": round(statistics.median(times[name]), 2), "kib": round(sizes[name] / 1024, 1)} for name in WRITERS
    }


def table(results: dict[str, dict[str, Any]]) -> str:
    names = list(results)
    lines = [
        "| writer | " + " | ".join(f"{name} ms / KiB" for name in names) + " | ms per MP, mean | size / Pillow 1 |"
    ]
    lines.append("| --- |" + " ---: |" * (len(names) + 2))
    for writer in WRITERS:
        cells = [
            f"{results[n]['writers'][writer]['ms']:.1f} / {results[n]['writers'][writer]['kib']:.0f}" for n in names
        ]
        per_mp = statistics.mean(results[n]["writers"][writer]["ms"] / results[n]["megapixels"] for n in names)
        size = statistics.mean(
            results[n]["writers"][writer]["kib"] / results[n]["writers"]["pillow level 1"]["kib"] for n in names
        )
        lines.append(f"| {writer} | " + " | ".join(cells) + f" | {per_mp:.1f} | {size:.3f} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lumaflow.bench.png", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="alternating rounds of every writer")
    parser.add_argument("--out", type=Path, help="write the JSON report here")
    args = parser.parse_args(argv)
    results = {
        name: {"size": [int(p.shape[1]), int(p.shape[0])], "megapixels": p.shape[0] * p.shape[1] / 1e6}
        | {"writers": measure(p, args.rounds)}
        for name, p in photos().items()
    }
    print(table(results))
    if args.out:
        report = {"machine": machine(), "rounds": args.rounds, "photos": results}
        write_json(args.out, report, indent=1)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

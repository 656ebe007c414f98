"""ONNX Runtime against OpenVINO on every neural stage's served graph, at the shape it mostly sees (issue 26).

For each stage with an ONNX graph in the model repository, both engines open the same file under the stage's
own policy (its intra-op threads), get the same inputs (a real photo cropped to the stage's warm-up shape: its
tile, its declared size, or a 320x240 camera frame; side inputs at typical values) and are timed in interleaved
windows (A B A B ...), so a busy machine slows both alike and the ratio stays meaningful. Parity is the max
absolute output difference between the engines on those inputs. Prints a markdown table and writes JSON; a
benchmark, not a test:

    python -m lumaflow.bench.engines --seconds 6 --out docs/bench/engines.json

``lumaflow tune --engines REPORT`` turns such a report into each stage's engine in ``ensemble/tuning.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lumaflow.bench.camera import time_interleaved
from lumaflow.build.photos import eval_photos
from lumaflow.contract import DataType
from lumaflow.ensemble.stages import STAGES, Stage
from lumaflow.ensemble.warmup import CAMERA_FRAME
from lumaflow.loadtest.report import machine
from lumaflow.runtime.engines import ENGINES, Engine, EnginePolicy, open_engine

REPOSITORY = Path(__file__).resolve().parents[1] / "model_repository"
CANDIDATES: tuple[str, ...] = ("onnxruntime", "openvino")
# Typical values of the per-image side inputs (contract names): a q30 JPEG, sigma 25, the first look at full strength.
SIDE_VALUES: dict[str, float] = {"JPEG_QUALITY": 30.0, "NOISE_LEVEL": 25.0, "TEMPLATE": 0.0, "STRENGTH": 1.0}
NUMPY_TYPES: dict[DataType, type[np.generic]] = {
    DataType.UINT8: np.uint8,
    DataType.INT32: np.int32,
    DataType.INT64: np.int64,
    DataType.FP16: np.float16,
    DataType.FP32: np.float32,
}


def serving_size(stage: Stage) -> tuple[int, ...]:
    """What the stage mostly sees, as its warm-up does: its declared size, its tile, or a camera frame."""
    return stage.warmup_size or ((stage.tiling.tile, stage.tiling.tile) if stage.tiling else CAMERA_FRAME)


def _crop(photo: np.ndarray, height: int, width: int) -> np.ndarray:
    reps = (-(-height // photo.shape[0]), -(-width // photo.shape[1]), 1)
    return np.ascontiguousarray(np.tile(photo, reps)[:height, :width])


def stage_feed(stage: Stage, photo: np.ndarray) -> dict[str, np.ndarray]:
    """One request's inputs for ``stage``: the photo at its serving size, side inputs at typical values."""
    size = serving_size(stage)
    height, width = size[-2:]
    pixels, *side = stage.inputs
    image = _crop(photo, height, width)
    batch = np.broadcast_to(image, (*size[:-2], height, width, 3)) if len(size) > 2 else image
    feed = {pixels.name: np.ascontiguousarray(batch)[None]}
    for tensor in side:
        dtype = NUMPY_TYPES[tensor.dtype]
        if tensor.dims[:2] == (-1, -1):  # per pixel (HOLE): a disc in the middle
            yy, xx = np.mgrid[:height, :width]
            disc = (yy - height / 2) ** 2 + (xx - width / 2) ** 2 < (min(height, width) / 6) ** 2
            feed[tensor.name] = (disc * 255).astype(dtype)[None, :, :, None]
        else:
            feed[tensor.name] = np.full((1, *tensor.dims), SIDE_VALUES.get(tensor.name, 0.0), dtype=dtype)
    return feed


def neural_stages(repository: Path = REPOSITORY) -> list[tuple[Stage, Path]]:
    """Stages whose graph is an ONNX file in ``repository`` (built by ``lumaflow build``)."""
    found = []
    for stage in STAGES.values():
        if stage.network is None:
            continue
        path = repository / stage.name / "1" / stage.network.onnx_file
        if path.suffix == ".onnx" and path.is_file():
            found.append((stage, path))
    return found


def _runner(engine: Engine, feed: dict[str, np.ndarray]) -> Callable[[], object]:
    return lambda: engine.run(feed)


def bench_stage(stage: Stage, path: Path, photo: np.ndarray, seconds: float) -> dict[str, Any]:
    """Calls per second of each engine (interleaved windows), megapixels per second, and their parity."""
    policy = EnginePolicy(threads=stage.threads)
    feed = stage_feed(stage, photo)
    engines = {kind: open_engine(kind, path, policy) for kind in CANDIDATES}
    outputs = {kind: engine.run(feed) for kind, engine in engines.items()}
    first, *others = CANDIDATES
    max_diff = max(
        float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max())
        for other in others
        for a, b in zip(outputs[first], outputs[other], strict=True)
    )
    rates = time_interleaved({kind: _runner(engine, feed) for kind, engine in engines.items()}, seconds)
    pixels = feed[stage.inputs[0].name]
    megapixels = float(np.prod(pixels.shape[:-1])) / 1e6
    return {
        "stage": stage.name,
        "shape": list(pixels.shape),
        "threads": stage.threads,
        "declared_engine": stage.network.engine if stage.network else "",
        "calls_per_s": {kind: round(rate, 3) for kind, rate in rates.items()},
        "input_mp_per_s": {kind: round(rate * megapixels, 3) for kind, rate in rates.items()},
        "openvino_vs_onnxruntime": round(rates["openvino"] / rates["onnxruntime"], 3),
        "max_abs_diff": max_diff,
        "versions": {kind: engine.version for kind, engine in engines.items()},
    }


def table(rows: Sequence[dict[str, Any]]) -> str:
    lines = [
        "| stage | input | threads | ONNX Runtime MP/s | OpenVINO MP/s | OpenVINO / ONNX Runtime | max diff |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        mp = row["input_mp_per_s"]
        shape = "x".join(map(str, row["shape"][:-1]))
        lines.append(
            f"| {row['stage']} | {shape} | {row['threads']} | {mp['onnxruntime']:.3f} | {mp['openvino']:.3f} | "
            f"**{row['openvino_vs_onnxruntime']:.2f}** | {row['max_abs_diff']:g} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="engines", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--seconds", type=float, default=6.0, help="timed seconds per stage, both engines together")
    p.add_argument("--stages", help="comma-separated stage names (default: every neural stage built)")
    p.add_argument("--repository", type=Path, default=REPOSITORY)
    p.add_argument("--out", type=Path, help="write the JSON report here")
    args = p.parse_args(argv)
    missing = [kind for kind in CANDIDATES if kind not in ENGINES]
    if missing:
        p.error(f"engines not registered: {', '.join(missing)}")
    wanted = set(args.stages.split(",")) if args.stages else None
    stages = [(s, path) for s, path in neural_stages(args.repository) if wanted is None or s.name in wanted]
    if not stages:
        p.error("no built stage graph matches (run `lumaflow build` first)")
    photo = next(iter(eval_photos().values()))
    rows = []
    for stage, path in stages:
        rows.append(bench_stage(stage, path, photo, args.seconds))
        print(f"{stage.name}: OpenVINO / ONNX Runtime {rows[-1]['openvino_vs_onnxruntime']:.2f}", flush=True)
    print(table(rows))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        report = {
            "benchmark": "lumaflow.bench.engines",
            "date": time.strftime("%Y-%m-%d"),
            "seconds": args.seconds,
            "machine": machine(),
            "stages": rows,
        }
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""ONNX Runtime against OpenVINO on every neural stage's served graph, at the shape it mostly sees (issue 26).

For each stage with an ONNX graph in the model repository, both engines open the same file under the stage's
own policy (its intra-op threads), get the same inputs (a real photo cropped to the stage's warm-up shape: its
tile, its declared size, or a 320x240 camera frame; side inputs at typical values) and are timed in interleaved
windows (A B A B ...), so a busy machine slows both alike and the ratio stays meaningful. Parity is the max
absolute output difference between the engines on those inputs. Prints a markdown table and writes JSON; a
benchmark, not a test:

    python -m lumaflow.bench.engines --seconds 6 --out docs/bench/engines.json

Beside the two fp32 engines, each graph quantised by NNCF into an OpenVINO int8 IR (calibrated on crops of
training photos, its outputs compared with the fp32 graph's on crops of validation photos) joins the same
interleaved windows, and every stage's achieved GFLOP/s (its convolutions and matrix products,
``lumaflow.build.graph_cost``) is set against the GEMM ceiling measured at the start of the run.

``lumaflow tune --engines REPORT`` turns such a report into each stage's engine in ``ensemble/tuning.json``.
"""

from __future__ import annotations

import argparse
import functools
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lumaflow import contract
from lumaflow.bench.camera import time_interleaved
from lumaflow.build.denoise import center_crop
from lumaflow.build.graph_cost import graph_gflop
from lumaflow.build.photo_sets import PhotoSet, load_set
from lumaflow.build.photos import eval_photos, resize_long_side
from lumaflow.contract import DataType
from lumaflow.ensemble.stages import STAGES, Stage
from lumaflow.ensemble.warmup import CAMERA_FRAME
from lumaflow.loadtest.report import machine, write_json
from lumaflow.runtime.engines import ENGINES, Engine, EnginePolicy, open_engine

REPOSITORY = Path(__file__).resolve().parents[1] / "model_repository"
CANDIDATES: tuple[str, ...] = ("onnxruntime", "openvino")
INT8 = "openvino_int8"  # NNCF's int8 IR, run by OpenVINO
INT8_PHOTOS = 8  # validation photos judge each int8 graph
CALIBRATION_PHOTOS = 16  # train photos calibrate it, one crop each
PHOTO_SIDE = 768  # photos are brought to this long side before a stage's crop, so a tile holds a scene's detail
GEMM_SIDE = 1024
SR_SIDE = 96  # the low-resolution crop an upscaler's int8 quality delta is measured on
DENOISE_SIGMAS = (15.0, 25.0, 50.0)  # the noise levels a denoiser's int8 quality delta is measured at
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


@functools.cache
def _photos(photo_set: PhotoSet, count: int) -> tuple[np.ndarray, ...]:
    """The first ``count`` photos of a set at PHOTO_SIDE on the long side, read once per run (every stage uses them)."""
    return tuple(resize_long_side(photo, PHOTO_SIDE) for photo in load_set(photo_set, limit=count).values())


def photo_feeds(stage: Stage, photo_set: PhotoSet, count: int) -> list[dict[str, np.ndarray]]:
    """The stage's inputs made from the centres of the first ``count`` photos of a set."""
    height, width = serving_size(stage)[-2:]
    return [stage_feed(stage, center_crop(photo, height, width)) for photo in _photos(photo_set, count)]


def gemm_ceiling(threads: int, seconds: float, workdir: Path) -> float:
    """fp32 GFLOP/s of ONNX Runtime multiplying two GEMM_SIDE-square matrices on ``threads`` threads: the roof the
    stages' achieved GFLOP/s are set against (convolutions run as GEMMs or Winograd, so a stage may pass it)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    n, rng = GEMM_SIDE, np.random.default_rng(0)
    weight = numpy_helper.from_array(rng.standard_normal((n, n)).astype(np.float32), "B")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["A", "B"], ["C"])],
        "gemm",
        [helper.make_tensor_value_info("A", TensorProto.FLOAT, [n, n])],
        [helper.make_tensor_value_info("C", TensorProto.FLOAT, [n, n])],
        [weight],
    )
    path = workdir / "gemm.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), path)
    engine = open_engine("onnxruntime", path, EnginePolicy(threads=threads))
    feed = {"A": rng.standard_normal((n, n)).astype(np.float32)}
    return 2 * n**3 * time_interleaved({"gemm": _runner(engine, feed)}, seconds)["gemm"] / 1e9


def int8_fidelity(fp32: Engine, int8: Engine, feeds: Sequence[dict[str, np.ndarray]]) -> dict[str, float | None]:
    """The int8 graph's first output against the fp32 graph's on ``feeds``: PSNR over all of them (uint8 outputs
    only; None for scores and levels) and the largest difference."""
    outputs = [(fp32.run(feed)[0], int8.run(feed)[0]) for feed in feeds]
    image = outputs[0][0].dtype == np.uint8
    pairs = [(a.astype(np.float64), b.astype(np.float64)) for a, b in outputs]
    mse = float(np.mean([np.mean((a - b) ** 2) for a, b in pairs]))
    psnr = (10 * np.log10(255.0**2 / mse) if mse > 0 else float("inf")) if image else None
    largest = max(float(np.abs(a - b).max()) for a, b in pairs)
    return {"psnr_vs_fp32_db": None if psnr is None else round(psnr, 2), "max_abs_diff_vs_fp32": largest}


def upscale_factor(stage: Stage, feed: dict[str, np.ndarray], out: np.ndarray) -> int:
    """How many times larger the stage's image ``out`` came out of ``feed`` (1 for restorers, scores and stages
    with side inputs)."""
    if len(stage.inputs) > 1 or out.dtype != np.uint8 or out.ndim != 4:
        return 1
    return int(out.shape[1] // feed[stage.inputs[0].name].shape[1])


def int8_sr_delta(fp32: Engine, int8: Engine, stage: Stage, factor: int) -> dict[str, float]:
    """Y-PSNR against the original (shaved ``factor`` px) of both graphs upscaling SR_SIDE px crops of INT8_PHOTOS
    validation photos, downscaled the way our SR is trained and judged (Pillow bicubic): the int8 graph's quality
    delta, not only its distance from fp32."""
    from lumaflow.build.eval import downscale, y_psnr

    side = SR_SIDE * factor
    scores: dict[str, list[float]] = {"fp32": [], "int8": []}
    for photo in _photos("validation", INT8_PHOTOS):
        hr = center_crop(photo, side)
        hr = hr[: hr.shape[0] // factor * factor, : hr.shape[1] // factor * factor]
        feed = {stage.inputs[0].name: np.ascontiguousarray(downscale(hr, factor))[None]}
        for name, engine in (("fp32", fp32), ("int8", int8)):
            scores[name].append(y_psnr(engine.run(feed)[0][0], hr, factor))
    fp32_db, int8_db = float(np.mean(scores["fp32"])), float(np.mean(scores["int8"]))
    return {
        "fp32_y_psnr_db": round(fp32_db, 2),
        "int8_y_psnr_db": round(int8_db, 2),
        "delta_db": round(int8_db - fp32_db, 2),
    }


def int8_denoise_delta(fp32: Engine, int8: Engine, stage: Stage) -> dict[str, Any]:
    """RGB PSNR against the clean crop of both graphs denoising the serving-size centres of INT8_PHOTOS validation
    photos under Gaussian noise at each of DENOISE_SIGMAS (seeded, clipped to uint8, the level told): the int8
    graph's quality delta. ``delta_db`` is the worst level's mean, so a rule on it holds at every level."""
    from lumaflow.build.eval import rgb_psnr

    pixels, level = (tensor.name for tensor in stage.inputs)
    height, width = serving_size(stage)[-2:]
    rng = np.random.default_rng(0)
    by_level: dict[str, float] = {}
    for sigma in DENOISE_SIGMAS:
        deltas = []
        for photo in _photos("validation", INT8_PHOTOS):
            clean = center_crop(photo, height, width)
            noisy = np.clip(clean + rng.normal(0.0, sigma, clean.shape), 0, 255).round().astype(np.uint8)
            feed = {pixels: noisy[None], level: np.full((1, 1), sigma, np.float32)}
            scores = [rgb_psnr(engine.run(feed)[0][0], clean) for engine in (fp32, int8)]
            deltas.append(scores[1] - scores[0])
        by_level[f"sigma{sigma:g}"] = round(float(np.mean(deltas)), 2)
    return {"delta_db_by_level": by_level, "delta_db": min(by_level.values())}


def quantized(stage: Stage, path: Path, workdir: Path) -> tuple[Path, dict[str, Any]]:
    """The stage's graph as NNCF's int8 IR in ``workdir``, calibrated on crops of CALIBRATION_PHOTOS train photos."""
    from lumaflow.build.quantize_openvino import quantize_openvino_feeds

    out = workdir / stage.name / "model.xml"
    start = time.perf_counter()
    record = quantize_openvino_feeds(path, out, photo_feeds(stage, "train", CALIBRATION_PHOTOS))
    return out, {**record, "quantize_s": round(time.perf_counter() - start, 1)}


def bench_stage(stage: Stage, path: Path, photo: np.ndarray, seconds: float, int8: Path | None) -> dict[str, Any]:
    """Calls per second of each engine (interleaved windows), megapixels and GFLOP per second, their parity, and
    the int8 graph's (``int8``, when given) speed and fidelity to fp32."""
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
    timed = dict(engines)
    fidelity: dict[str, Any] = {}
    if int8 is not None:
        timed[INT8] = open_engine("openvino", int8, policy)
        fidelity = int8_fidelity(engines["openvino"], timed[INT8], photo_feeds(stage, "validation", INT8_PHOTOS))
        factor = upscale_factor(stage, feed, outputs["openvino"][0])
        if factor > 1:
            fidelity |= int8_sr_delta(engines["openvino"], timed[INT8], stage, factor)
        elif [tensor.name for tensor in stage.inputs[1:]] == [contract.NOISE_LEVEL.name]:
            fidelity |= int8_denoise_delta(engines["openvino"], timed[INT8], stage)
    rates = time_interleaved({kind: _runner(engine, feed) for kind, engine in timed.items()}, seconds)
    pixels = feed[stage.inputs[0].name]
    megapixels = float(np.prod(pixels.shape[:-1])) / 1e6
    gflop = graph_gflop(path, {name: array.shape for name, array in feed.items()})
    row: dict[str, Any] = {
        "stage": stage.name,
        "shape": list(pixels.shape),
        "threads": stage.threads,
        "declared_engine": stage.network.engine if stage.network else "",
        "gflop_per_call": round(gflop, 4),
        "calls_per_s": {kind: round(rate, 3) for kind, rate in rates.items()},
        "input_mp_per_s": {kind: round(rate * megapixels, 3) for kind, rate in rates.items()},
        "gflop_per_s": {kind: round(rate * gflop, 2) for kind, rate in rates.items()},
        "openvino_vs_onnxruntime": round(rates["openvino"] / rates["onnxruntime"], 3),
        "max_abs_diff": max_diff,
        "versions": {kind: engine.version for kind, engine in engines.items()},
    }
    if int8 is not None:
        row["int8"] = {"vs_openvino_fp32": round(rates[INT8] / rates["openvino"], 3), **fidelity}
    return row


def _int8_cells(row: dict[str, Any]) -> tuple[str, str, str]:
    int8 = row.get("int8")
    if int8 is None:
        return "–", "–", "–"
    psnr = int8["psnr_vs_fp32_db"]
    fidelity = f"{psnr:.1f} dB" if psnr is not None else f"max diff {int8['max_abs_diff_vs_fp32']:.3g}"
    if "delta_db_by_level" in int8:
        levels = ", ".join(f"{delta:+.2f}" for delta in int8["delta_db_by_level"].values())
        fidelity += f"; denoised PSNR {levels} dB at σ {', '.join(f'{s:g}' for s in DENOISE_SIGMAS)}"
    elif "delta_db" in int8:
        fidelity += f"; Y-PSNR {int8['delta_db']:+.2f} dB"
    return f"{row['input_mp_per_s'][INT8]:.3f}", f"**{int8['vs_openvino_fp32']:.2f}**", fidelity


def table(rows: Sequence[dict[str, Any]], ceiling: float) -> str:
    lines = [
        "| stage | input | GFLOP/call | ONNX Runtime MP/s | OpenVINO MP/s | OpenVINO int8 MP/s"
        " | OpenVINO / ONNX Runtime | int8 / OpenVINO fp32 | int8 against fp32 (validation)"
        " | best fp32 GFLOP/s (of GEMM) | max diff |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        mp = row["input_mp_per_s"]
        shape = "x".join(map(str, row["shape"][:-1]))
        best = max(row["gflop_per_s"][kind] for kind in CANDIDATES)
        int8_mp, int8_ratio, fidelity = _int8_cells(row)
        lines.append(
            f"| {row['stage']} | {shape} | {row['gflop_per_call']:.3g} | {mp['onnxruntime']:.3f} | {mp['openvino']:.3f}"
            f" | {int8_mp} | **{row['openvino_vs_onnxruntime']:.2f}** | {int8_ratio} | {fidelity}"
            f" | {best:.1f} ({best / ceiling:.0%}) | {row['max_abs_diff']:g} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="engines", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--seconds", type=float, default=6.0, help="timed seconds per stage, all engines together")
    p.add_argument("--stages", help="comma-separated stage names (default: every neural stage built)")
    p.add_argument("--no-int8", action="store_true", help="leave out NNCF's int8 graphs (quicker)")
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
    with tempfile.TemporaryDirectory(prefix="lumaflow-engines-") as scratch:
        workdir = Path(scratch)
        threads = max(stage.threads for stage, _ in stages)
        ceiling = gemm_ceiling(threads, 3.0, workdir)
        print(f"GEMM ceiling: {ceiling:.1f} GFLOP/s (ONNX Runtime fp32, {GEMM_SIDE}-square, {threads} threads)")
        for stage, path in stages:
            int8, record = (None, {}) if args.no_int8 else quantized(stage, path, workdir)
            rows.append(bench_stage(stage, path, photo, args.seconds, int8))
            if int8 is not None:
                rows[-1]["int8"].update(record)
            print(f"{stage.name}: OpenVINO / ONNX Runtime {rows[-1]['openvino_vs_onnxruntime']:.2f}", flush=True)
    print(table(rows, ceiling))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        report = {
            "benchmark": "lumaflow.bench.engines",
            "date": time.strftime("%Y-%m-%d"),
            "seconds": args.seconds,
            "machine": machine(),
            "gemm_ceiling_gflop_per_s": round(ceiling, 1),
            "gemm_threads": threads,
            "stages": rows,
        }
        write_json(args.out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())

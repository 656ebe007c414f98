"""fp32 vs int8 CPU speed and quality of the camera networks on one engine, in one run.

Each network is exported as the served uint8 graph, quantised (ONNX Runtime: `lumaflow.build.quantize`, static
QDQ; OpenVINO with ``--engine openvino``: `lumaflow.build.quantize_openvino`, NNCF), and
both are timed on a 320x240 frame (batch 1, 2 intra-op threads) in interleaved windows, so a busy
machine slows every configuration alike and the speed-up ratio stays meaningful. Quality is
measured on scikit-image's evaluation photos (full size, never calibrated on). Prints a markdown
table and writes JSON. A benchmark, not a test:

    python -m lumaflow.bench.camera --weights espcn_x2.pt --seconds 30 --out bench/camera.json
    python -m lumaflow.bench.camera --engine openvino --out docs/bench/camera_openvino.json
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

import lumaflow.build
from lumaflow.build.eval import bicubic_up, downscale, rgb_psnr, y_psnr
from lumaflow.build.export import export_onnx
from lumaflow.build.photos import crop_to_multiple, eval_photos
from lumaflow.build.pixels import PixelsGraph
from lumaflow.build.quantize import calibration_frames, quantize_int8
from lumaflow.build.registry import ModelDescriptor, load_file
from lumaflow.loadtest import report
from lumaflow.loadtest.report import write_json
from lumaflow.runtime.engines import Engine, EnginePolicy, open_engine

WEIGHTS_DIR = Path(lumaflow.build.__file__).parent / "weights"
DEFAULT_WEIGHTS: tuple[str, ...] = ("camera_x2.pt", "camera_x1.pt")
FRAME_HW = (240, 320)
ENGINES = ("onnxruntime", "openvino")
THREADS = 2
WINDOWS = 8  # timed windows per configuration; the median ignores a window hit by a noisy neighbour
WARMUP_RUNS = 3

Row = dict[str, object]


def _session(path: Path, engine: str = ENGINES[0]) -> Engine:
    """``engine`` on the CPU, THREADS intra-op threads, idle threads spinning (ONNX Runtime's default)."""
    return open_engine(engine, path, EnginePolicy(threads=THREADS, spinning=True))


def _quantize(fp32_path: Path, workdir: Path, frames: list[np.ndarray], engine: str) -> tuple[Path, dict[str, Any]]:
    """The int8 graph for ``engine``: ONNX Runtime's static QDQ, or NNCF's OpenVINO IR."""
    if engine == "openvino":
        from lumaflow.build.quantize_openvino import quantize_openvino_int8

        out = workdir / f"{fp32_path.stem.removesuffix('_fp32')}_int8.xml"
        return out, quantize_openvino_int8(fp32_path, out, frames)
    out = workdir / f"{fp32_path.stem.removesuffix('_fp32')}_int8.onnx"
    return out, quantize_int8(fp32_path, out, frames)


def _runner(session: Engine) -> Callable[[np.ndarray], np.ndarray]:
    name = session.input_names[0]

    def run(pixels: np.ndarray) -> np.ndarray:
        return session.run({name: pixels})[0]

    return run


def time_interleaved(
    runners: dict[str, Callable[[], object]], seconds: float, windows: int = WINDOWS
) -> dict[str, float]:
    """Median calls/s of each runner over `windows` windows taken in turn (A B C A B C ...)."""
    for run in runners.values():
        for _ in range(WARMUP_RUNS):
            run()
    window = seconds / (windows * len(runners))
    rates: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(windows):
        for name, run in runners.items():
            start = time.perf_counter()
            calls = 0
            while True:
                run()
                calls += 1
                elapsed = time.perf_counter() - start
                if elapsed >= window:
                    break
            rates[name].append(calls / elapsed)
    return {name: statistics.median(r) for name, r in rates.items()}


def _gflop(model: object) -> float | None:
    macs = getattr(model, "macs_per_input_pixel", None)
    if macs is None:
        return None
    return float(macs()) * FRAME_HW[0] * FRAME_HW[1] * 2 / 1e9


def _quality_x2(runs: dict[str, Callable[[np.ndarray], np.ndarray]]) -> dict[str, float]:
    """Mean Y-PSNR (border 2) against the HR photo of each method, on photos halved with bicubic."""
    scores: dict[str, list[float]] = {name: [] for name in (*runs, "bicubic")}
    for photo in eval_photos().values():
        hr = crop_to_multiple(photo, 2)
        lr = downscale(hr, 2)
        for name, run in runs.items():
            scores[name].append(y_psnr(run(lr[None])[0], hr, 2))
        scores["bicubic"].append(y_psnr(bicubic_up(lr, 2), hr, 2))
    return {name: float(np.mean(s)) for name, s in scores.items()}


def _quality_x1(fp32: Callable[[np.ndarray], np.ndarray], int8: Callable[[np.ndarray], np.ndarray]) -> float:
    """Mean RGB PSNR of int8's output against fp32's: a x1 net has no ground truth here, only drift."""
    return float(np.mean([rgb_psnr(int8(p[None])[0], fp32(p[None])[0]) for p in eval_photos().values()]))


def bench_network(path: Path, seconds: float, workdir: Path, engine: str = ENGINES[0]) -> dict[str, object]:
    """Export, quantise, time and score one weights file; returns its JSON record."""
    descriptor: ModelDescriptor = load_file(os.fspath(path))
    output = "UPSCALED" if descriptor.scale == 2 else "RESTORED"
    fp32_path = export_onnx(
        PixelsGraph(descriptor.model), workdir / f"{path.stem}_fp32.onnx", input_name="PIXELS", output_name=output
    )
    frames = calibration_frames()
    int8_path, record = _quantize(fp32_path, workdir, frames, engine)
    runs = {"fp32": _runner(_session(fp32_path, engine)), "int8": _runner(_session(int8_path, engine))}
    frame = frames[0]
    timed: dict[str, Callable[[], object]] = {name: functools.partial(run, frame) for name, run in runs.items()}
    if descriptor.scale == 2:
        timed["bicubic"] = lambda: bicubic_up(frame[0], 2)
    fps = time_interleaved(timed, seconds)
    gflop = _gflop(descriptor.model)
    rows: list[Row] = []
    if descriptor.scale == 2:
        psnr = _quality_x2(runs)
        metric = "Y-PSNR dB (BT.601, border 2): HR photo -> Pillow bicubic /2 -> x2"
        for name in ("fp32", "int8", "bicubic"):
            rows.append(
                {
                    "precision": name,
                    "gflop": gflop if name != "bicubic" else None,
                    "fps": fps[name],
                    "psnr_db": psnr[name],
                    "delta_db": psnr[name] - psnr["fp32"],
                    "speedup": fps[name] / fps["fp32"],
                }
            )
    else:
        drift = _quality_x1(runs["fp32"], runs["int8"])
        metric = "RGB PSNR dB of the int8 output against the fp32 output (full photos)"
        for name in ("fp32", "int8"):
            rows.append(
                {
                    "precision": name,
                    "gflop": gflop,
                    "fps": fps[name],
                    "psnr_db": None if name == "fp32" else drift,
                    "delta_db": None,
                    "speedup": fps[name] / fps["fp32"],
                }
            )
    for row in rows:
        row["ms_per_frame"] = 1000.0 / float(row["fps"])  # type: ignore[arg-type]
    return {
        "network": path.stem,
        "file": path.name,
        "architecture": descriptor.architecture,
        "scale": descriptor.scale,
        "metric": metric,
        "engine": engine,
        "quantisation": record,
        "rows": rows,
    }


def _fmt(value: object, spec: str) -> str:
    return "–" if value is None else format(value, spec)


def table(results: Sequence[dict[str, object]]) -> str:
    """The markdown table of all networks' rows."""
    lines = [
        "| network | precision | GFLOP/frame | fps | ms/frame | Y-PSNR dB | Δ vs fp32 | speed-up |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        rows: list[Row] = result["rows"]  # type: ignore[assignment]
        for row in rows:
            psnr = _fmt(row["psnr_db"], ".2f")
            if result["scale"] == 1 and row["psnr_db"] is not None:
                psnr += " (RGB vs fp32)"
            lines.append(
                f"| {result['network']} | {row['precision']} | {_fmt(row['gflop'], '.2f')} | {_fmt(row['fps'], '.1f')}"
                f" | {_fmt(row['ms_per_frame'], '.1f')} | {psnr} | {_fmt(row['delta_db'], '+.2f')}"
                f" | {_fmt(row['speedup'], '.2f')}x |"
            )
    return "\n".join(lines)


def machine() -> dict[str, object]:
    """What the numbers were measured on (the load average shows whether the CPU was shared)."""
    versions = {}
    for package in ENGINES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return {**report.machine(), **versions}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("camera_bench.json"), help="JSON results file")
    parser.add_argument("--seconds", type=float, default=24.0, help="timed seconds per network, all configs")
    parser.add_argument("--weights", nargs="+", default=list(DEFAULT_WEIGHTS), help=f"files in {WEIGHTS_DIR}")
    parser.add_argument("--engine", choices=ENGINES, default=ENGINES[0], help="both precisions run on this engine")
    args = parser.parse_args(argv)
    results, skipped = [], []
    with tempfile.TemporaryDirectory(prefix="camera_bench.") as tmp:
        for name in args.weights:
            path = WEIGHTS_DIR / name
            if not path.is_file():
                print(f"note: {path} does not exist (yet); skipped")
                skipped.append(name)
                continue
            print(f"{name}: export, quantise, {args.seconds:g} s timing, quality ...", flush=True)
            results.append(bench_network(path, args.seconds, Path(tmp), args.engine))
    report = {
        "machine": machine(),
        "settings": {
            "frame": f"{FRAME_HW[1]}x{FRAME_HW[0]}",
            "batch": 1,
            "intra_op_threads": THREADS,
            "inter_op_threads": 1,
            "seconds_per_network": args.seconds,
            "engine": args.engine,
            "windows": WINDOWS,
            "fps": "median of interleaved windows",
        },
        "networks": results,
        "skipped": skipped,
    }
    if results:
        print()
        print(table(results))
        for result in results:
            print(f"\n{result['network']}: {result['metric']}")
    write_json(args.out, report)
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

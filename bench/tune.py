"""``lumaflow tune``: measure a pipeline's network stage under candidate batching settings, keep the best.

For each candidate (max_batch_size x queue delay x instance count) the pipeline's models are served
alone on free loopback ports with the stage's config rendered from that candidate, the same
closed-loop clients run, and throughput and p99 are recorded. The winner is the highest throughput
whose p99 is within the budget (the lowest p99 if none is). It is written into ``ensemble/tuning.json``
with every measurement that chose it and the machine they came from; ``lumaflow generate`` then
renders the configs from it. Configs are never edited by hand.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Sequence
from itertools import product
from pathlib import Path
from typing import Any

from lumaflow.bench.baselines import ensemble_config, network_stage, pipeline_models, served, workload
from lumaflow.build.repository import MIN_INT8_PSNR_DB
from lumaflow.ensemble.stages import STAGES
from lumaflow.ensemble.tuning import TUNING_FILE, read_tuning, tuned
from lumaflow.loadtest.report import machine


def tune(
    source: Path,
    pipeline: str,
    *,
    batch_sizes: Sequence[int] = (),
    delays_us: Sequence[int] = (0, 2_000, 5_000, 10_000),
    instances: Sequence[int] = (1,),
    clients: int = 16,
    seconds: float = 10.0,
    budget_ms: float = 1_000.0,
    side: int = 128,
    frame: tuple[int, int] = (320, 240),
    tuning_file: Path = TUNING_FILE,
) -> dict[str, Any]:
    models = pipeline_models(source, pipeline)
    stage = network_stage(models)
    ensemble = ensemble_config(source, pipeline)
    too_small = [size for size in batch_sizes if size < ensemble.max_batch_size]
    if too_small:  # Triton refuses an ensemble whose batch is larger than one of its steps'
        raise ValueError(
            f"max_batch_size {too_small} is below {pipeline}'s own {ensemble.max_batch_size}: the ensemble would"
            " not load (clients may send that many frames in one request)"
        )
    kind = "camera" if stage.name.startswith("camera") else "photo"
    _, make_inputs = workload(kind, side, frame)
    rows = []
    for batch, delay, count in product(batch_sizes or (stage.max_batch_size,), delays_us, instances):
        trial = tuned(stage, {"max_batch_size": batch, "max_queue_delay_us": delay, "instances": count})
        measured = served(source, models, stage, "candidate", pipeline, clients, seconds, make_inputs, override=trial)
        row = {
            "max_batch_size": batch,
            "max_queue_delay_us": delay,
            "instances": count,
            "throughput_per_s": round(measured.throughput_per_s, 3),
            "p50_ms": round(measured.p50_ms, 1),
            "p99_ms": round(measured.p99_ms, 1),
            "average_batch": round(measured.batch, 2),
            "failed": measured.failed,
        }
        rows.append(row)
        print(
            f"batch {batch:2d} delay {delay:6d} us instances {count}: {row['throughput_per_s']:7.2f}/s "
            f"p99 {row['p99_ms']:8.1f} ms average batch {row['average_batch']:.2f}",
            flush=True,
        )
    within = [row for row in rows if row["p99_ms"] <= budget_ms and not row["failed"]]
    best = max(within, key=lambda row: row["throughput_per_s"]) if within else min(rows, key=lambda row: row["p99_ms"])
    entry = {
        "max_batch_size": best["max_batch_size"],
        "max_queue_delay_us": best["max_queue_delay_us"],
        "instances": best["instances"],
        "chosen_by": f"highest throughput with p99 <= {budget_ms:g} ms"
        if within
        else f"lowest p99 (none within {budget_ms:g} ms)",
        "measured": {
            "pipeline": pipeline,
            "date": time.strftime("%Y-%m-%d"),
            "machine": machine()["summary"],
            "clients": clients,
            "seconds": seconds,
            "workload": f"{frame[0]}x{frame[1]} frames" if kind == "camera" else f"{side}x{side} photo crops",
            "candidates": rows,
        },
    }
    tuning = read_tuning(tuning_file)
    kept = {key: value for key, value in tuning.get(stage.name, {}).items() if key.startswith(ENGINE_KEYS)}
    tuning[stage.name] = {**kept, **entry}  # the engine choice is another command's
    tuning_file.write_text(json.dumps(tuning, indent=2, sort_keys=True) + "\n")
    return entry


ENGINE_KEYS = "engine"  # "engine" and "engine_measured"
# OpenVINO replaces ONNX Runtime for a stage only this much faster, within one level: a tie is noise, and a swap
# costs a second engine's memory in that stub.
ENGINE_MARGIN = 1.10


def choose_engines(
    report_paths: Path | Sequence[Path], tuning_file: Path = TUNING_FILE, margin: float = ENGINE_MARGIN
) -> dict[str, str]:
    """Each stage of ``lumaflow.bench.engines`` reports gets its engine in ``tuning_file``: OpenVINO where it ran
    at least ``margin`` x ONNX Runtime's rate with outputs within one level, ONNX Runtime otherwise. With several
    reports a stage's ratio is its median over the runs that measured it and its difference the largest: one run
    on a busy machine moved ratios by up to 0.34 (docs/performance.md), enough to flip a stage near the margin."""
    paths = [report_paths] if isinstance(report_paths, Path) else list(report_paths)
    reports = [json.loads(path.read_text()) for path in paths]
    runs: dict[str, list[dict[str, Any]]] = {}
    for report in reports:
        for row in report["stages"]:
            network = STAGES[row["stage"]].network if row["stage"] in STAGES else None
            if network is not None and network.is_openvino_ir:
                continue  # an IR's engine is OpenVINO, not a choice (an old report may hold its QDQ graph's row)
            runs.setdefault(row["stage"], []).append(row)
    tuning = read_tuning(tuning_file)
    chosen: dict[str, str] = {}
    for stage, rows in runs.items():
        ratios = [float(row["openvino_vs_onnxruntime"]) for row in rows]
        ratio, diff = statistics.median(ratios), max(float(row["max_abs_diff"]) for row in rows)
        engine = "openvino" if ratio >= margin and diff <= 1.0 else "onnxruntime"
        entry = tuning.setdefault(stage, {})
        entry["engine"] = engine
        entry["engine_measured"] = {
            "chosen_by": f"OpenVINO where >= {margin:g}x ONNX Runtime with outputs within 1 level",
            "report": ", ".join(path.name for path in paths),
            "date": ", ".join(sorted({report.get("date", "") for report in reports})),
            "machine": ", ".join(sorted({report["machine"].get("summary", "") for report in reports})),
            "shape": rows[0]["shape"],
            "openvino_vs_onnxruntime": ratio,
            "max_abs_diff": diff,
        }
        if len(rows) > 1:
            entry["engine_measured"]["runs"] = ratios
        chosen[stage] = engine
    tuning_file.write_text(json.dumps(tuning, indent=2, sort_keys=True) + "\n")
    return chosen


# int8 is served for a stage only where NNCF's IR loses at most this much task PSNR against fp32 on validation photos
# (issue 26's rule) and runs at least INT8_MARGIN x the faster fp32 engine.
INT8_MAX_LOSS_DB = 0.1
INT8_MARGIN = 1.5


def choose_precisions(report_path: Path, tuning_file: Path = TUNING_FILE) -> dict[str, str]:
    """Each tiled photo stage with an int8 row in a ``lumaflow.bench.engines`` report gets its embedded precision in
    ``tuning_file``: int8 where the row's task-quality delta (an upscaler's Y-PSNR, a denoiser's RGB PSNR at its
    worst noise level; validation photos) is at most ``INT8_MAX_LOSS_DB`` below fp32, its output no further from
    fp32's than the build accepts (``MIN_INT8_PSNR_DB``: a GAN's texture can move far while its PSNR against the
    original does not) and its rate at least ``INT8_MARGIN`` x the faster fp32 engine; fp32 otherwise.

    A stage whose row has no such delta (a x1 restorer other than a denoiser: only its distance from fp32 was
    measured, not its task quality) stays fp32. Camera stages are left out: the camera's int8 is its own pipeline
    (``camera_x2_int8``), chosen by the caller."""
    report = json.loads(report_path.read_text())
    tuning = read_tuning(tuning_file)
    chosen: dict[str, str] = {}
    for row in report["stages"]:
        stage = STAGES.get(row["stage"])
        int8 = row.get("int8")
        if stage is None or stage.tiling is None or stage.network is None or not int8:
            continue
        rates = row["calls_per_s"]
        speedup = rates["openvino_int8"] / max(rates["onnxruntime"], rates["openvino"])
        delta, fidelity = int8.get("delta_db"), int8.get("psnr_vs_fp32_db") or 0.0
        kept = delta is not None and delta >= -INT8_MAX_LOSS_DB and fidelity >= MIN_INT8_PSNR_DB
        precision = "int8" if kept and speedup >= INT8_MARGIN else "fp32"
        entry = tuning.setdefault(row["stage"], {})
        entry["precision"] = precision
        entry["precision_measured"] = {
            "chosen_by": f"int8 where its task PSNR (Y after upscaling, RGB after denoising) is within "
            f"{INT8_MAX_LOSS_DB} dB of fp32 on validation photos, its output's PSNR against fp32's at least "
            f"{MIN_INT8_PSNR_DB:g} dB (the build's bound) and it runs >= {INT8_MARGIN}x the faster fp32 engine",
            "report": report_path.name,
            "date": report.get("date", ""),
            "machine": report["machine"].get("summary", ""),
            "shape": row["shape"],
            "int8_vs_fastest_fp32": round(speedup, 3),
            "quality_delta_db": delta,
            "psnr_vs_fp32_db": int8.get("psnr_vs_fp32_db"),
        }
        chosen[row["stage"]] = precision
    tuning_file.write_text(json.dumps(tuning, indent=2, sort_keys=True) + "\n")
    return chosen

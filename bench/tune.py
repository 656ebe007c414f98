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
import time
from collections.abc import Sequence
from itertools import product
from pathlib import Path
from typing import Any

from lumaflow.bench.baselines import ensemble_config, network_stage, pipeline_models, served, workload
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
    tuning[stage.name] = entry
    tuning_file.write_text(json.dumps(tuning, indent=2, sort_keys=True) + "\n")
    return entry

"""``python -m lumaflow.bench.lean_starts``: the one-tile path's network time, server start by server start.

The lean benchmark (``lumaflow.bench.lean``) starts one server per run, and its served figures swung between runs
more than its windows did. This separates the network from everything else: for each of ``--starts`` fresh servers
(the pipeline's models alone, as the lean benchmark serves them) one caller sends the 256 px photos, and INFO's
``one_tile.network_ms`` gives the engine call inside decode; the decode stub's CPU seconds per photo say whether its
threads worked harder or waited. Beside it, the same engine call in as many fresh processes of this machine
(the graph and engine settings the decode opens), so a per-process effect shows on both sides or on one.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import tritonclient.grpc as grpcclient

from lumaflow import contract
from lumaflow.bench.baselines import copy_repository, pipeline_models
from lumaflow.bench.lean import REPOSITORY, jpegs, pillow_decode
from lumaflow.build.offline import triton_json
from lumaflow.ensemble.pipelines import PIPELINES
from lumaflow.ensemble.render import decode_config
from lumaflow.loadtest.photos import Request, photo_inputs
from lumaflow.loadtest.report import machine, write_json
from lumaflow.params import DecodeParams
from lumaflow.runtime.one_tile import OneTileRunner
from lumaflow.server.process import running_server
from lumaflow.server.procfs import cpu_seconds, model_stubs

PIPELINE = "upscale_x2_fast"
WARM = 20  # photos before the timed ones, in either place


def _decode_params() -> DecodeParams:
    return DecodeParams.from_model_config(triton_json(decode_config(PIPELINES[PIPELINE])))


def served_start(photos: int, side: int) -> dict[str, float]:
    """One fresh server: the median network milliseconds over ``photos`` requests, and decode's CPU ms a photo."""
    requests = [Request(f"photo{index}", jpeg) for index, jpeg in enumerate(jpegs(side))]
    inputs = photo_inputs(requests, json.dumps({"format": "png", "quality_check": False}))()
    with tempfile.TemporaryDirectory(prefix="lumaflow-starts-") as scratch:
        served = copy_repository(REPOSITORY, Path(scratch), pipeline_models(REPOSITORY, PIPELINE), None)
        with running_server(served) as server, grpcclient.InferenceServerClient(server.endpoints.grpc_url) as client:
            (stub,) = model_stubs(server.pid, f"{PIPELINE}_decode")
            network, began = [], 0.0
            for number in range(WARM + photos):
                if number == WARM:
                    began = cpu_seconds(stub) or 0.0
                result = client.infer(PIPELINE, inputs[number % len(inputs)])
                if number >= WARM:
                    info = json.loads(result.as_numpy(contract.INFO.name)[0, 0])
                    network.append(float(info["one_tile"]["network_ms"]))
            cpu_ms = ((cpu_seconds(stub) or 0.0) - began) * 1e3 / photos
    return {"network_ms": round(statistics.median(network), 2), "decode_cpu_ms_per_photo": round(cpu_ms, 1)}


def in_process_once(photos: int, side: int) -> float:
    """This process: the median milliseconds of the decode's engine call on the same photos."""
    params = _decode_params()
    if params.one_tile is None:
        raise ValueError(f"{PIPELINE} has no one-tile path")
    runner = OneTileRunner.open(params.one_tile, REPOSITORY, params.bucket_max_side)  # as the decode opens it
    pixels = [pillow_decode(jpeg)[None] for jpeg in jpegs(side)]
    times = []
    for number in range(WARM + photos):
        started = time.perf_counter()
        runner.network.engine.run({runner.network.spec.pixels: pixels[number % len(pixels)]})
        if number >= WARM:
            times.append((time.perf_counter() - started) * 1e3)
    return round(statistics.median(times), 2)


def in_process_start(photos: int, side: int) -> float:
    """``in_process_once`` in a fresh Python process."""
    argv = [sys.executable, "-m", "lumaflow.bench.lean_starts", "--once", "--photos", str(photos), "--side", str(side)]
    return float(subprocess.run(argv, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])


def table(report: dict[str, Any]) -> str:
    lines = ["| start | served: network ms (median) | served: decode CPU ms a photo | in process: network ms |"]
    lines.append("| ---: | ---: | ---: | ---: |")
    for number, (served, local) in enumerate(zip(report["served"], report["in_process_ms"], strict=True), 1):
        lines.append(f"| {number} | {served['network_ms']} | {served['decode_cpu_ms_per_photo']} | {local} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lumaflow.bench.lean_starts", description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=6, help="fresh servers, and as many fresh processes")
    parser.add_argument("--photos", type=int, default=200, help="timed photos per start")
    parser.add_argument("--side", type=int, default=256)
    parser.add_argument("--once", action="store_true", help="(internal) one in-process measurement, printed")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    if args.once:
        print(in_process_once(args.photos, args.side))
        return 0
    served, local = [], []
    for _ in range(args.starts):  # alternated, so a change of the machine's state falls on both
        served.append(served_start(args.photos, args.side))
        local.append(in_process_start(args.photos, args.side))
    report = {"machine": machine(), "pipeline": PIPELINE, "side": args.side, "served": served, "in_process_ms": local}
    report["spread"] = {
        "served_network_ms": [min(s["network_ms"] for s in served), max(s["network_ms"] for s in served)],
        "in_process_ms": [min(local), max(local)],
    }
    print(table(report))
    if args.out:
        write_json(args.out, report, indent=1)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

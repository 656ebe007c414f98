"""``python -m lumaflow.bench.lean``: a small photo through Lumaflow against the same work in one process (issue 26).

The in-process pipeline is what a hand-written script would do with the same network: Pillow decodes the JPEG,
the stage's engine (the served graph, the stage's engine and threads) runs on the decoded pixels at batch 1, and
the same PNG encoder (``lumaflow.runtime.imaging.encode_image``) writes the result. Lumaflow serves the same
JPEGs one at a time (one client, closed loop, ``format: png``, no quality check, so both do the same work) from
a server holding the pipeline's models. Windows of each alternate, so a neighbour's load on a shared machine
falls on both; the ratio is photos per second served over photos per second in process, per window pair.
Beside it, the network-only ratio: the stage's execute time per photo inside the server (Triton's compute_infer)
against the engine call alone in process. With ``--probes`` the same windows also time three probe models
(``lumaflow.bench.lean_probe_models``): a constant answer (the transport floor), the in-process work in one model,
and that work in the first step of a four-step ensemble: what fewer hops could reach, measured, not guessed.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tritonclient.grpc as grpcclient
from PIL import Image

from lumaflow import contract
from lumaflow.bench.baselines import copy_repository, pipeline_models
from lumaflow.bench.lean_probes import write_probes
from lumaflow.build.offline import OfflineServer
from lumaflow.ensemble.pipelines import PIPELINES
from lumaflow.ensemble.render import Embedded, decode_config, ensemble_config, render
from lumaflow.ensemble.stages import Stage
from lumaflow.loadtest.photos import Request, closed_loop, photo_inputs
from lumaflow.loadtest.report import LoadPoint, StageTime, machine, stage_times, write_json
from lumaflow.loadtest.stats import statistics_snapshot
from lumaflow.runtime.engines import Engine
from lumaflow.runtime.imaging import encode_image
from lumaflow.server.process import running_server

REPOSITORY = Path(__file__).resolve().parent.parent / "model_repository"
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")  # scikit-image photos of the validation set
NOISE_LEVEL = 15.0  # denoise is told the level, so neither side runs the estimator
ORDINARY = "ordinary path"  # the pipeline with its one-tile path off, beside the probes


@dataclass(frozen=True)
class Work:
    """One pipeline's requests: the JPEGs, the OPTIONS sent with them, and its neural stage."""

    pipeline: str
    stage: Stage
    jpegs: list[bytes]
    options: dict[str, Any]


def jpegs(side: int) -> list[bytes]:
    """Real photos cropped to ``side`` px squares, as JPEG at quality 90."""
    from skimage import data

    encoded = []
    for name in PHOTOS:
        buffer = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(getattr(data, name)()[:side, :side])).save(buffer, "JPEG", quality=90)
        encoded.append(buffer.getvalue())
    return encoded


def work(pipeline: str, side: int) -> Work:
    steps = PIPELINES[pipeline].stages
    networks = [stage for stage in steps if stage.network is not None]
    if len(networks) != 1:
        raise ValueError(f"{pipeline}: the lean comparison takes a pipeline of one network, not {len(networks)}")
    options: dict[str, Any] = {"format": "png", "quality_check": False}
    if contract.NOISE_LEVEL.name in {tensor.name for tensor in networks[0].inputs}:
        options["noise_level"] = NOISE_LEVEL
    return Work(pipeline, networks[0], jpegs(side), options)


def pillow_decode(jpeg: bytes) -> np.ndarray:
    """The in-process pipeline's decode: Pillow, to RGB."""
    with Image.open(io.BytesIO(jpeg)) as image:
        return np.asarray(image.convert("RGB"))


def png_of(pixels: np.ndarray) -> bytes:
    """The in-process pipeline's encode: the PNG encode serves (``encode_image``), nothing else."""
    return encode_image(np.ascontiguousarray(pixels), fmt="png")[0]


class InProcess:
    """Pillow decode, the stage's engine on a batch of them, the same PNG encode; the engine's seconds kept apart."""

    def __init__(self, stage: Stage, repository: Path) -> None:
        # Opened as the served stage opens it, from its rendered config (engine, graph file, threads).
        self.engine: Engine = OfflineServer(repository).stage(stage).engine
        self.side_inputs = self.engine.input_names[1:]  # the noise level, told
        self.engine_s = 0.0

    def __call__(self, batch: Sequence[bytes]) -> list[bytes]:
        decoded = [pillow_decode(jpeg) for jpeg in batch]
        side = {name: np.full((len(batch), 1), NOISE_LEVEL, np.float32) for name in self.side_inputs}
        started = time.perf_counter()
        out = self.engine.run({self.engine.input_names[0]: np.stack(decoded), **side})[0]
        self.engine_s += time.perf_counter() - started
        return [png_of(pixels) for pixels in out]


def in_process_window(local: InProcess, requests: Sequence[bytes], batch: int, seconds: float) -> tuple[int, float]:
    """Photos done and seconds taken, ``batch`` at a time, cycling through ``requests`` for ``seconds``."""
    done, began = 0, time.perf_counter()
    while time.perf_counter() - began < seconds:
        local([requests[(done + i) % len(requests)] for i in range(batch)])
        done += batch
    return done, time.perf_counter() - began


def served_network(
    stages: Sequence[StageTime],
    stage: str,
    client: grpcclient.InferenceServerClient,
    pipeline: str,
    requests: Sequence[list[grpcclient.InferInput]],
) -> tuple[float, float]:
    """The network's milliseconds per batch in the server, and the batch it formed, over a window.

    From the stage model's statistics; when it ran nothing (decode ran the network on every photo: the one-tile
    path, ``lumaflow.runtime.one_tile``), from INFO's ``one_tile`` of one more request per photo, at batch 1."""
    ran = next((times for times in stages if times.model == stage and times.executions), None)
    if ran is not None:
        return ran.compute_infer_us * ran.inferences / 1e3 / ran.executions, ran.average_batch
    times = []
    for inputs in requests:
        info = json.loads(client.infer(pipeline, inputs).as_numpy(contract.INFO.name)[0, 0])
        times.append(float(info["one_tile"]["network_ms"]))
    return statistics.median(times), 1.0


def ordinary_repository(repository: Path, scratch: Path, pipeline: str) -> Path | None:
    """A copy of the pipeline's models whose decode never finishes a photo itself (every photo through the
    tiler, the quality check and encode), or None when the pipeline has no one-tile path to compare with."""
    declared = PIPELINES[pipeline]
    if declared.one_tile_stage is None:
        return None
    copied = copy_repository(repository, scratch, pipeline_models(repository, pipeline), None)
    ordinary = Embedded(one_tile=False)
    for config in (decode_config(declared, ordinary), ensemble_config(declared, ordinary)):
        (copied / config.name / "config.pbtxt").write_text(render(config))
    return copied


@dataclass(frozen=True)
class InProcessWindow:
    """The in-process pipeline's window: photos done, seconds taken, the engine's milliseconds per batch."""

    photos: int
    seconds: float
    network_ms: float

    @property
    def per_s(self) -> float:
        return self.photos / self.seconds


def window_row(
    measured: LoadPoint,
    batch_formed: float,
    network_ms: float,
    in_process: InProcessWindow,
    probe_rates: dict[str, float],
) -> dict[str, Any]:
    """One window pair's figures, each served rate also as its ratio to the in-process rate."""
    return {
        "served_per_s": round(measured.throughput_per_s, 2),
        "served_failed": measured.failed,
        "batch_formed": round(batch_formed, 2),
        "in_process_per_s": round(in_process.per_s, 2),
        "ratio": round(measured.throughput_per_s / in_process.per_s, 3),
        "network_ms_served": round(network_ms, 2),
        "network_ms_in_process": round(in_process.network_ms, 2),
        "probes_per_s": {model: round(rate, 2) for model, rate in probe_rates.items()},
        "probe_ratios": {model: round(rate / in_process.per_s, 3) for model, rate in probe_rates.items()},
    }


def compare(
    task: Work,
    seconds: float,
    windows: int,
    clients: int,
    repository: Path = REPOSITORY,
    probes: bool = False,
    ordinary: bool = False,
) -> dict[str, Any]:
    """Interleaved windows of Lumaflow (``clients`` closed-loop callers) and of the in-process pipeline at the
    batch Lumaflow's network stage formed in the window before; with ``probes``, each probe's window after them;
    with ``ordinary``, a window of a second server whose decode leaves every photo to the tiler."""
    local = InProcess(task.stage, repository)
    answer = local(task.jpegs[:1])[0]  # warm; the constant probe's answer
    requests = [Request(f"photo{index}", jpeg) for index, jpeg in enumerate(task.jpegs)]
    make_inputs = photo_inputs(requests, json.dumps(task.options))
    with contextlib.ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="lumaflow-lean-")))
        models = pipeline_models(repository, task.pipeline)
        served = copy_repository(repository, scratch / "shipped", models, None)
        probed = write_probes(served, repository, task.stage, answer, NOISE_LEVEL) if probes else ()
        second = ordinary_repository(repository, scratch / "ordinary", task.pipeline) if ordinary else None
        ordinary_url, ordinary_client, ordinary_first = None, None, {}
        if second is not None:
            ordinary_url = stack.enter_context(running_server(second)).endpoints.grpc_url
            closed_loop(ordinary_url, task.pipeline, clients, 2.0, make_inputs, 60.0)
            ordinary_client = stack.enter_context(grpcclient.InferenceServerClient(ordinary_url))
            ordinary_first = statistics_snapshot(ordinary_client)
        with running_server(served) as server:
            url = server.endpoints.grpc_url
            with grpcclient.InferenceServerClient(url) as stats_client:
                for model in (task.pipeline, *probed):
                    closed_loop(url, model, clients, 2.0, make_inputs, 60.0)  # warm every stub and client path
                rows, first = [], statistics_snapshot(stats_client)
                for _ in range(windows):
                    before = statistics_snapshot(stats_client)
                    measured = closed_loop(url, task.pipeline, clients, seconds, make_inputs, 60.0)
                    after = statistics_snapshot(stats_client)
                    network_ms, batch_formed = served_network(
                        stage_times(before, after), task.stage.name, stats_client, task.pipeline, make_inputs()
                    )
                    batch = max(1, round(batch_formed))
                    local.engine_s = 0.0
                    local_n, local_s = in_process_window(local, task.jpegs, batch, seconds)
                    probe_rates = {
                        model: closed_loop(url, model, clients, seconds, make_inputs, 60.0).throughput_per_s
                        for model in probed
                    }
                    if ordinary_url is not None:
                        probe_rates[ORDINARY] = closed_loop(
                            ordinary_url, task.pipeline, clients, seconds, make_inputs, 60.0
                        ).throughput_per_s
                    in_process = InProcessWindow(local_n, local_s, local.engine_s / (local_n / batch) * 1e3)
                    rows.append(window_row(measured, batch_formed, network_ms, in_process, probe_rates))
                stages = stage_times(first, statistics_snapshot(stats_client))
        ordinary_stages = (
            [] if ordinary_client is None else stage_times(ordinary_first, statistics_snapshot(ordinary_client))
        )
    return {
        "pipeline": task.pipeline,
        "stage": task.stage.name,
        "engine": task.stage.network.engine if task.stage.network else "",
        "clients": clients,
        "options": task.options,
        "windows": rows,
        "ratio_median": statistics.median(row["ratio"] for row in rows),
        "probe_ratio_medians": {
            model: statistics.median(row["probe_ratios"][model] for row in rows) for model in rows[0]["probe_ratios"]
        },
        "network_only_ratio": statistics.median(
            row["network_ms_in_process"] / row["network_ms_served"] for row in rows
        ),
        "stages": stage_rows(stages),
        "ordinary_stages": stage_rows(ordinary_stages),  # the second server's (``ordinary``), over its windows
    }


def stage_rows(stages: Sequence[StageTime]) -> list[dict[str, Any]]:
    """Triton's statistics per model over the windows: requests, batch, queue and compute time per request."""
    return [
        {
            "model": s.model,
            "inferences": s.inferences,
            "average_batch": round(s.average_batch, 2),
            "queue_us": round(s.queue_us),
            "infer_us": round(s.compute_infer_us),
        }
        for s in stages
    ]


def table(results: Sequence[dict[str, Any]]) -> str:
    lines = [
        "| pipeline | clients | batch formed | in process /s | Lumaflow /s | Lumaflow / in process (per window) | "
        "median | network ms per batch, in process / served | network-only ratio |",
        "| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: |",
    ]
    for result in results:
        rows = result["windows"]

        def median(key: str, rows: list[dict[str, Any]] = rows) -> float:
            return float(statistics.median(row[key] for row in rows))

        ratios = ", ".join(f"{row['ratio']:.2f}" for row in rows)
        lines.append(
            f"| {result['pipeline']} | {result['clients']} | {median('batch_formed'):.2f} | "
            f"{median('in_process_per_s'):.1f} | {median('served_per_s'):.1f} | {ratios} | "
            f"**{result['ratio_median']:.2f}** | {median('network_ms_in_process'):.1f} / "
            f"{median('network_ms_served'):.1f} | {result['network_only_ratio']:.2f} |"
        )
    return "\n".join(lines)


def probe_table(results: Sequence[dict[str, Any]]) -> str:
    """Each probe's photos per second over the in-process pipeline's, per window and median, beside Lumaflow's."""
    lines = [
        "| pipeline | clients | model | per second | / in process (per window) | median |",
        "| --- | ---: | --- | ---: | --- | ---: |",
    ]
    for result in results:
        rows = result["windows"]
        served = ", ".join(f"{row['ratio']:.2f}" for row in rows)
        per_s = statistics.median(row["served_per_s"] for row in rows)
        lines.append(
            f"| {result['pipeline']} | {result['clients']} | {result['pipeline']} (as shipped) | {per_s:.1f} | "
            f"{served} | **{result['ratio_median']:.2f}** |"
        )
        for model, median in result["probe_ratio_medians"].items():
            ratios = ", ".join(f"{row['probe_ratios'][model]:.2f}" for row in rows)
            rate = statistics.median(row["probes_per_s"][model] for row in rows)
            lines.append(
                f"| {result['pipeline']} | {result['clients']} | {model} | {rate:.1f} | {ratios} | **{median:.2f}** |"
            )
    return "\n".join(lines)


def server_side_table(results: Sequence[dict[str, Any]]) -> str:
    """Each server's own milliseconds per photo (the pipeline ensemble's compute time in Triton's statistics): the
    shipped server's against the second server's (``--ordinary``), steadier than photos a second in a window."""
    lines = ["| pipeline | clients | ms a photo in the server: shipped | ordinary path | ordinary / shipped |"]
    lines.append("| --- | ---: | ---: | ---: | ---: |")
    for result in results:
        times = []
        for rows in (result["stages"], result["ordinary_stages"]):
            times.append(next((row["infer_us"] / 1e3 for row in rows if row["model"] == result["pipeline"]), None))
        shipped, ordinary = times
        if shipped is None or ordinary is None:
            continue
        row = f"| {result['pipeline']} | {result['clients']} | {shipped:.1f} | {ordinary:.1f}"
        lines.append(f"{row} | {ordinary / shipped:.3f} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lumaflow.bench.lean", description=__doc__.splitlines()[0])
    parser.add_argument("--pipelines", default="upscale_x2_fast,denoise")
    parser.add_argument("--side", type=int, default=256, help="the photos' side, px")
    parser.add_argument("--seconds", type=float, default=4.0, help="per window")
    parser.add_argument("--windows", type=int, default=4, help="window pairs per pipeline")
    parser.add_argument("--clients", type=int, default=1, help="Lumaflow's closed-loop callers")
    parser.add_argument("--probes", action="store_true", help="also time the probe models (the floors)")
    parser.add_argument("--ordinary", action="store_true", help="also time a second server with the one-tile path off")
    parser.add_argument("--out", type=Path, help="write the JSON report here")
    args = parser.parse_args(argv)
    results = [
        compare(
            work(name, args.side), args.seconds, args.windows, args.clients, probes=args.probes, ordinary=args.ordinary
        )
        for name in args.pipelines.split(",")
    ]
    print(table(results))
    if args.probes or args.ordinary:
        print(probe_table(results))
    if args.ordinary:
        print(server_side_table(results))
    if args.out:
        report = {"machine": machine(), "side": args.side, "seconds": args.seconds, "results": results}
        write_json(args.out, report, indent=1)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""``lumaflow loadtest baselines``: Lumaflow as shipped against what it is built from, in one run.

Three configurations on the same inputs, on this machine, one after the other:

1. **direct engine**: the pipeline's network graph called in this process on the stage's own engine (ONNX
   Runtime or OpenVINO, as ``ensemble/tuning.json`` chose) with its settings, one item at a time and in
   batches (the batch Lumaflow's dynamic batcher actually formed, and the stage's max_batch_size): the
   network's cost with nothing around it; behind a tiler
   also on the windows the tiler sends (the photo with its context), the served network's same work;
2. **Triton, dynamic batching off**: the pipeline's models served with its network stage's
   ``dynamic_batching`` removed (rendered from the same declaration), N closed-loop clients;
3. **Lumaflow as shipped**: the same models with their declared batching, the same clients.

Each server is started on free loopback ports with only the pipeline's models, and stopped by PID.
Photo pipelines are sent small real photos with the quality check off (it is a second network; its
cost is measured by ``lumaflow.bench.understanding``); camera pipelines raw frames. The report says, per
configuration, throughput and latency, and for both served ones where the time went (Triton's
per-model statistics): on CPU a compute-bound network gains little from batching, so the gain
has to come from per-request overhead. It also says how the machine's cores were shared during each
measured window: CPU time of this process (the gRPC clients, or the engine itself when direct) and of
the server with its python-backend stubs, since clients and server compete for the same two cores here.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import tritonclient.grpc as grpcclient
from google.protobuf import text_format
from PIL import Image
from tritonclient.grpc import model_config_pb2 as pb

from lumaflow.client.protocol import frame_inputs
from lumaflow.ensemble.render import render, stage_config
from lumaflow.ensemble.stages import STAGES, Stage
from lumaflow.loadtest.photos import Request, closed_loop, photo_inputs
from lumaflow.loadtest.report import StageTime, machine, stage_table, stage_times
from lumaflow.loadtest.stats import statistics_snapshot
from lumaflow.params import DecodeParams
from lumaflow.runtime import tiling
from lumaflow.runtime.engines import EnginePolicy, open_engine
from lumaflow.server.process import running_server
from lumaflow.server.procfs import stubs_with_prefix

SHIPPED = "Lumaflow as shipped (dynamic batching)"
UNBATCHED = "Triton, dynamic batching off"
ALWAYS = ("quality", "analysis")  # BLS callees of decode and the quality check: small, load them too
ENGINE_NAMES = {"onnxruntime": "ONNX Runtime", "openvino": "OpenVINO"}  # how a direct configuration names it


@dataclass
class Configuration:
    name: str
    throughput_per_s: float
    p50_ms: float
    p99_ms: float
    items: int
    batch: float  # items per network call (direct) or the network stage's average batch (served)
    failed: dict[str, int] = field(default_factory=dict)
    stages: list[StageTime] = field(default_factory=list)
    # CPU seconds spent in the measured window by this process (clients, or ONNX Runtime when direct) and by
    # the server and its stubs, over `seconds` of wall time: the cores' share each side had.
    seconds: float = 0.0
    process_cpu_s: float = 0.0
    server_cpu_s: float = 0.0

    def cpu_percent(self, cpu_s: float) -> float:
        """``cpu_s`` as a percentage of all this machine's cores over the measured window."""
        return 100.0 * cpu_s / (self.seconds * (os.cpu_count() or 1)) if self.seconds else float("nan")


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU seconds so far of the live processes ``pids`` (Linux /proc; gone ones count 0)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of proc(5)
    return total / os.sysconf("SC_CLK_TCK")


def ensemble_config(repository: Path, pipeline: str) -> pb.ModelConfig:
    """The pipeline's ensemble config as the repository holds it."""
    return text_format.Parse((repository / pipeline / "config.pbtxt").read_text(), pb.ModelConfig())


def decode_reads(repository: Path, decode: str) -> list[str]:
    """The stage models whose folders a pipeline's decode opens itself (the one-tile path) or asks by BLS."""
    config = text_format.Parse((repository / decode / "config.pbtxt").read_text(), pb.ModelConfig())
    params = DecodeParams.from_parameters({key: value.string_value for key, value in config.parameters.items()})
    in_decode = (params.one_tile, params.analysis_in_decode, params.noise_map_in_decode)
    asked = [params.noise_map_model] if params.noise_map_model else []
    return [stage.stage for stage in in_decode if stage is not None] + asked


def pipeline_models(repository: Path, pipeline: str) -> list[str]:
    """The models one pipeline needs: its ensemble's steps, the python tilers' networks, the models its decode
    opens, and the BLS callees."""
    config = ensemble_config(repository, pipeline)
    steps = [step.model_name for step in config.ensemble_scheduling.step]
    if "photo_route" in steps:
        raise ValueError(f"{pipeline} routes between stages at run time; baseline a fixed pipeline instead")
    needed = [pipeline, *steps]
    for step in steps:
        if step.endswith("_tiles"):  # a tiler calls its network stage by BLS
            needed.append(step.removesuffix("_tiles"))
        if step.endswith("_decode"):
            needed += decode_reads(repository, step)
    needed += [name for name in ALWAYS if (repository / name).is_dir()]
    return list(dict.fromkeys(needed))


def tile_windows(repository: Path, models: Sequence[str], pixels: Sequence[np.ndarray]) -> tuple[list[np.ndarray], int]:
    """What the network stage is given for ``pixels`` behind the pipeline's tiler, and the tiler's context.

    A tiler hands its network each tile with ``context`` pixels around it, reflected at the photo's edges,
    so a 128 px photo reaches SPAN as 176 x 176 (1.89 times the pixels). Without a tiler: the pixels, 0.
    """
    tilers = [name for name in models if name.endswith("_tiles")]
    if not tilers:
        return list(pixels), 0
    config = text_format.Parse((repository / tilers[0] / "config.pbtxt").read_text(), pb.ModelConfig())
    context, tile = (int(config.parameters[key].string_value) for key in ("context", "tile"))
    windows = []
    for image in pixels:
        padded = tiling.pad_for_context(image, context)
        windows += [tiling.window(padded, t) for t in tiling.plan(image.shape[0], image.shape[1], tile, context)]
    return windows, context


def network_stage(models: Sequence[str]) -> Stage:
    neural = [STAGES[name] for name in models if name in STAGES and STAGES[name].network is not None]
    served = [stage for stage in neural if stage.name not in ALWAYS]
    if len(served) != 1:
        raise ValueError(f"expected one network stage, found {[stage.name for stage in served]}")
    return served[0]


def copy_repository(source: Path, destination: Path, models: Sequence[str], override: Stage | None) -> Path:
    """The pipeline's models alone; with ``override`` that stage's config re-rendered from it."""
    for name in models:
        shutil.copytree(source / name, destination / name, ignore=shutil.ignore_patterns("__pycache__"))
    if override is not None:
        (destination / override.name / "config.pbtxt").write_text(render(stage_config(override)))
    return destination


def _encoded(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def workload(kind: str, side: int, frame: tuple[int, int]) -> tuple[list[np.ndarray], Callable[[], list[list[Any]]]]:
    """Real pixels (scikit-image's photos, cropped square or resized to the frame) and the request factory."""
    from skimage import data

    photos = [getattr(data, name)() for name in ("astronaut", "coffee", "chelsea")]
    if kind == "camera":
        width, height = frame
        frames = [np.asarray(Image.fromarray(p).resize((width, height), Image.Resampling.BILINEAR)) for p in photos]
        return frames, lambda: [frame_inputs(f) for f in frames]
    crops = [np.ascontiguousarray(p[:side, :side]) for p in photos]
    requests = [Request(f"crop{index}", _encoded(crop)) for index, crop in enumerate(crops)]
    return crops, photo_inputs(requests, '{"format": "jpeg", "quality_check": false}')


def direct(
    stage: Stage, graph: Path, pixels: Sequence[np.ndarray], batch: int, seconds: float, what: str = ""
) -> Configuration:
    """The stage's graph in this process, ``batch`` items a call, as its python model runs it."""
    kind = stage.network.engine if stage.network else "onnxruntime"  # the engine its python model opens
    engine = open_engine(kind, graph, EnginePolicy(threads=stage.threads, spinning=False))
    names = engine.input_names
    same_size = [p for p in pixels if p.shape == pixels[0].shape]
    items = np.stack([same_size[i % len(same_size)] for i in range(batch)])
    feed: dict[str, np.ndarray] = {names[0]: items}
    for name in names[1:]:  # a side input (noise level): a typical value per item
        feed[name] = np.full((batch, 1), 15.0, dtype=np.float32)
    engine.run(feed)  # warm-up
    latencies = []
    began, cpu_before = time.monotonic(), time.process_time()
    stop_at = began + seconds
    while time.monotonic() < stop_at:
        started = time.monotonic()
        engine.run(feed)
        latencies.append(time.monotonic() - started)
    cpu_s, wall_s = time.process_time() - cpu_before, time.monotonic() - began
    calls = len(latencies)
    return Configuration(
        name=f"direct {ENGINE_NAMES.get(engine.name, engine.name)}, batch {batch}{what}",
        throughput_per_s=calls * batch / sum(latencies),
        p50_ms=statistics.median(latencies) * 1e3,
        p99_ms=sorted(latencies)[min(calls - 1, int(0.99 * calls))] * 1e3,
        items=calls * batch,
        batch=batch,
        seconds=wall_s,
        process_cpu_s=cpu_s,
    )


def served(
    source: Path,
    models: Sequence[str],
    stage: Stage,
    name: str,
    pipeline: str,
    clients: int,
    seconds: float,
    make_inputs: Callable[[], list[list[Any]]],
    override: Stage | None = None,
) -> Configuration:
    """``clients`` closed-loop callers against the pipeline's models, ``stage`` as declared or as ``override``."""
    with tempfile.TemporaryDirectory(prefix="lumaflow-baseline-") as scratch:
        repository = copy_repository(source, Path(scratch), models, override)
        with running_server(repository) as server:
            url = server.endpoints.grpc_url
            closed_loop(url, pipeline, clients, min(2.0, seconds), make_inputs, 60.0)  # warm every client path
            server_pids = [server.pid, *stubs_with_prefix(server.shm_prefix)]
            with grpcclient.InferenceServerClient(url) as client:
                before = statistics_snapshot(client)
                began, cpu_before, server_before = time.monotonic(), time.process_time(), cpu_seconds(server_pids)
                measured = closed_loop(url, pipeline, clients, seconds, make_inputs, 60.0)
                cpu_s, server_s = time.process_time() - cpu_before, cpu_seconds(server_pids) - server_before
                wall_s = time.monotonic() - began
                stages = stage_times(before, statistics_snapshot(client))
    network = next((s for s in stages if s.model == stage.name), None)
    return Configuration(
        name=name,
        throughput_per_s=measured.throughput_per_s,
        p50_ms=measured.p50_ms,
        p99_ms=measured.p99_ms,
        items=measured.succeeded,
        batch=network.average_batch if network else 0.0,
        failed=measured.failed,
        stages=stages,
        seconds=wall_s,
        process_cpu_s=cpu_s,
        server_cpu_s=server_s,
    )


@dataclass
class BaselineReport:
    pipeline: str
    stage: str
    clients: int
    seconds: float
    workload: str
    configurations: list[Configuration] = field(default_factory=list)

    def ratio(self, numerator: str, denominator: str) -> float:
        by_name = {c.name: c.throughput_per_s for c in self.configurations}
        top, bottom = by_name.get(numerator, 0.0), by_name.get(denominator, 0.0)
        return top / bottom if bottom else float("nan")

    def as_dict(self) -> dict[str, Any]:
        return {
            "command": "lumaflow loadtest baselines",
            "pipeline": self.pipeline,
            "network_stage": self.stage,
            "clients": self.clients,
            "seconds": self.seconds,
            "workload": self.workload,
            "machine": machine(),
            "configurations": [
                {**asdict(c), "stages": [{**asdict(s), "average_batch": s.average_batch} for s in c.stages]}
                for c in self.configurations
            ],
        }

    def markdown(self) -> str:
        lines = [
            f"# lumaflow loadtest baselines: {self.pipeline} (network stage {self.stage})",
            "",
            f"Machine: {machine()['summary']}. {self.workload}; served configurations: {self.clients} closed-loop "
            f"gRPC clients for {self.seconds:g} s each.",
            "",
            "| configuration | items/s | p50 ms | p99 ms | items | network batch | failed | this process CPU % "
            "| server CPU % |",
            "| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |",
        ]
        for c in self.configurations:
            failed = ", ".join(f"{k} {v}" for k, v in c.failed.items()) or "0"
            server = f"{c.cpu_percent(c.server_cpu_s):.0f}" if c.stages else "–"
            lines.append(
                f"| {c.name} | {c.throughput_per_s:.2f} | {c.p50_ms:.1f} | {c.p99_ms:.1f} | {c.items} | "
                f"{c.batch:.2f} | {failed} | {c.cpu_percent(c.process_cpu_s):.0f} | {server} |"
            )
        lines += [
            "",
            f"CPU %: CPU time over the measured window as a share of all {os.cpu_count()} cores; this process is the"
            " gRPC clients for the served rows and the engine itself for the direct ones; the server's includes"
            " its python-backend stubs.",
        ]
        for c in (served for served in self.configurations if served.stages):
            lines += ["", f"{c.name}: where the time went inside the server, per inference:", ""]
            lines += stage_table(c.stages)
        return "\n".join(lines) + "\n"

    def write(self, out: Path) -> list[Path]:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        out.mkdir(parents=True, exist_ok=True)
        (out / "report.json").write_text(json.dumps(self.as_dict(), indent=1) + "\n")
        (out / "report.md").write_text(self.markdown())
        figure, axis = plt.subplots(figsize=(7, 3.5))
        names = [c.name for c in self.configurations]
        axis.barh(names, [c.throughput_per_s for c in self.configurations])
        axis.set_xlabel("items per second")
        axis.set_title(f"{self.pipeline}: throughput by configuration")
        axis.invert_yaxis()
        figure.tight_layout()
        figure.savefig(out / "throughput.png", dpi=100)
        plt.close(figure)
        return [out / "report.json", out / "report.md", out / "throughput.png"]


def run(
    source: Path,
    pipeline: str,
    out: Path,
    *,
    clients: int = 16,
    seconds: float = 20.0,
    side: int = 128,
    frame: tuple[int, int] = (320, 240),
) -> BaselineReport:
    models = pipeline_models(source, pipeline)
    stage = network_stage(models)
    kind = "camera" if stage.name.startswith("camera") else "photo"
    pixels, make_inputs = workload(kind, side, frame)
    described = (
        f"raw {frame[0]}x{frame[1]} frames of real photos"
        if kind == "camera"
        else f"{side}x{side} crops of real photos as JPEG, quality check off"
    )
    report = BaselineReport(pipeline, stage.name, clients, seconds, described)
    shipped = served(source, models, stage, SHIPPED, pipeline, clients, seconds, make_inputs)
    unbatched = served(
        source, models, stage, UNBATCHED, pipeline, clients, seconds, make_inputs, replace(stage, dynamic_batching=None)
    )
    graph = source / stage.name / "1" / (stage.network.onnx_file if stage.network else "model.onnx")
    formed = max(1, round(shipped.batch))  # the batch Lumaflow's dynamic batcher formed
    batches = sorted({1, formed, stage.max_batch_size})
    directs = [direct(stage, graph, pixels, batch, min(seconds, 10.0)) for batch in batches]
    windows, context = tile_windows(source, models, pixels)
    if context:  # the same work as the served network: the tiles with their context, at the batch it formed
        what = f", the tiler's windows ({windows[0].shape[1]}x{windows[0].shape[0]}: {context} px context)"
        directs.append(direct(stage, graph, windows, formed, min(seconds, 10.0), what))
    report.configurations = [*directs, unbatched, shipped]
    report.write(out)
    return report

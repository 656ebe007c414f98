"""The camera and photo pipelines served by Triton through the ``torch_cuda`` engine: one prepared run.

Made for a GPU machine lent for a few minutes, with no tritonserver and no package registry (see
``lumaflow.bench.gpu_stage`` for what travels and how it is unpacked), and dry-run on the CPU with the
same staged Triton (``make gpu-dry-run``): only the device and the sizes change. In order:

1. export ``camera_sr_x2`` and ``ffdnet`` to TorchScript on the device (``lumaflow.bench.gpu_artifacts``:
   fp16 channels-last on CUDA, fp32 on the CPU) and check them (on the CPU against the ONNX graphs, within
   one level; on CUDA against the fp32 network);
2. render a small repository with the ``EmbeddedTorch`` target: ``camera_x2`` and its stage, an unbatched twin
   (``camera_x2_nobatch``: the same stage without dynamic batching), and ``denoise`` with its decode,
   tiler, ffdnet, quality check and encode; start tritonserver through the launcher (``running_server``);
3. check one frame and one photo through the server (the frame against the artefact run in this process);
4. camera frames/s and p99 at each number of streams, batched and unbatched, through shared memory;
   the best throughput with p99 <= 50 ms of each, and their ratio; then denoise photos/s at each
   number of clients (JPEG over gRPC, quality check off, noise level given);
5. the torch profiler's kernel time of the camera artefact in this process at the batch sizes Triton
   formed, against Triton's compute_infer at those sizes: the fraction of the stage's time on the GPU.

Every phase is bounded by ``--seconds`` (plus a warm-up) and the whole run by ``--budget-s``: a phase that
would not fit is skipped and said so. The JSON report is rewritten after each phase.

    python3 bench/gpu_stage.py run -- --device cuda --out $OUT             # there (one call)
    python -m lumaflow.bench.gpu_triton --installed --device cpu --frame 320x240 --out /tmp/gpu-dry  # here
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from lumaflow.bench import gpu_stage

CAMERA, CAMERA_STAGE, UNBATCHED = "camera_x2", "camera_sr_x2", "_nobatch"
PHOTO, PHOTO_STAGE = "denoise", "ffdnet"
PHOTO_MODELS = ("denoise", "denoise_decode", "ffdnet_tiles", "ffdnet", "quality_check", "encode")
PHOTO_OPTIONS = {"format": "jpeg", "quality_check": False, "noise_level": 15}
SLO_MS = 50.0
REPO = gpu_stage.REPO


@dataclass(frozen=True)
class Settings:
    device: str
    out: Path
    frame: tuple[int, int]  # width, height
    photo: tuple[int, int]
    levels: tuple[int, ...]  # camera streams
    photo_clients: tuple[int, ...]
    seconds: float
    warm_s: float
    budget_s: float
    instances: int
    check_onnx: bool


def _size(text: str) -> tuple[int, int]:
    width, height = (int(side) for side in text.lower().split("x"))
    return width, height


def render_repository(root: Path, settings: Settings, kind: str) -> None:
    """The camera pipeline (and its unbatched twin) and the denoise pipeline, neural stages on ``torch_cuda``
    with instances of ``kind`` (``GPU``, ``CPU``); artefacts already there stay."""
    from lumaflow.ensemble.config import InstanceKind
    from lumaflow.ensemble.generate import repository_files
    from lumaflow.ensemble.pipelines import CAMERA_PIPELINES
    from lumaflow.ensemble.render import EmbeddedTorch, camera_ensemble_config, render, stage_config
    from lumaflow.ensemble.stages import STAGES

    target = EmbeddedTorch(kind=InstanceKind[kind], count=settings.instances)
    keep = {CAMERA, CAMERA_STAGE, *PHOTO_MODELS}
    for relative, content in repository_files(target).items():
        if relative.split("/", 1)[0] in keep:
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
    twin = replace(STAGES[CAMERA_STAGE], name=CAMERA_STAGE + UNBATCHED, dynamic_batching=None)
    ensemble = camera_ensemble_config(CAMERA_PIPELINES[CAMERA])
    step = replace(ensemble.ensemble_steps[0], model_name=twin.name)
    (root / twin.name / "1").mkdir(parents=True, exist_ok=True)
    (root / twin.name / "config.pbtxt").write_text(render(stage_config(twin, target)))
    shutil.copy2(root / CAMERA_STAGE / "1" / "model.py", root / twin.name / "1" / "model.py")
    (root / (CAMERA + UNBATCHED) / "1").mkdir(parents=True, exist_ok=True)
    twin_ensemble = replace(ensemble, name=CAMERA + UNBATCHED, ensemble_steps=(step,))
    (root / (CAMERA + UNBATCHED) / "config.pbtxt").write_text(render(twin_ensemble))


def export_artifacts(root: Path, settings: Settings, report: dict[str, Any]) -> None:
    from lumaflow.bench.gpu_artifacts import ARTIFACT_FILE, export_all

    onnx = REPO / "model_repository"
    if settings.check_onnx:
        from lumaflow.build.deploy import ensure_artifacts

        ensure_artifacts(onnx, say=False, stages=(CAMERA_STAGE, PHOTO_STAGE))
    staged = Path(os.environ.get(gpu_stage.READY_VARIABLE, "/nonexistent")) / "weights"
    weights = staged if staged.is_dir() else gpu_stage.DEFAULT_STAGE / "weights"
    done = export_all(
        root,
        settings.device,
        (CAMERA_STAGE, PHOTO_STAGE),
        weights_dir=weights if weights.is_dir() else None,
        onnx_repository=onnx if settings.check_onnx else None,
    )
    shutil.copy2(root / CAMERA_STAGE / "1" / ARTIFACT_FILE, root / (CAMERA_STAGE + UNBATCHED) / "1" / ARTIFACT_FILE)
    report["artifacts"] = done
    if settings.check_onnx:
        worst = max(row["vs_onnx"]["max_abs_diff"] for row in done.values())
        if worst > 1:
            raise SystemExit(f"a TorchScript artefact differs from its ONNX graph by {worst:g} levels (> 1)")


def camera_frames(settings: Settings) -> list[np.ndarray]:
    from PIL import Image

    from lumaflow.bench.gpu_artifacts import real_photos

    size = settings.frame
    return [np.asarray(Image.fromarray(photo).resize(size, Image.Resampling.BILINEAR)) for photo in real_photos()]


def photo_requests(settings: Settings) -> list[bytes]:
    """Real photos at the photo size with mild noise, as JPEG (quality 92)."""
    from PIL import Image

    from lumaflow.bench.gpu_artifacts import real_photos

    generator = np.random.default_rng(0)
    payloads = []
    for photo in real_photos()[:2]:
        resized = np.asarray(Image.fromarray(photo).resize(settings.photo, Image.Resampling.BICUBIC), dtype=np.float32)
        noisy = np.clip(resized + generator.normal(0, 10, resized.shape), 0, 255).astype(np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(noisy).save(buffer, format="JPEG", quality=92)
        payloads.append(buffer.getvalue())
    return payloads


def check_served(url: str, root: Path, settings: Settings, frames: list[np.ndarray]) -> dict[str, Any]:
    """One frame through camera_x2 (against the artefact in this process) and one photo through denoise."""
    import tritonclient.grpc as grpcclient

    from lumaflow.bench.gpu_artifacts import difference
    from lumaflow.client.protocol import frame_inputs, photo_inputs, photo_outputs
    from lumaflow.runtime.engines import EnginePolicy, open_engine

    with grpcclient.InferenceServerClient(url) as client:
        served = client.infer(CAMERA, frame_inputs(frames[0]), client_timeout=120.0).as_numpy("ENHANCED_FRAME")
        photo = photo_inputs(photo_requests(settings)[0], PHOTO_OPTIONS)
        encoded, info = photo_outputs(client.infer(PHOTO, photo, client_timeout=300.0))
    engine = open_engine("torch_cuda", root / CAMERA_STAGE / "1" / "model.ts", EnginePolicy(threads=2))
    expected = engine.run({engine.input_names[0]: frames[0][None]})[0]
    from PIL import Image

    size = Image.open(io.BytesIO(encoded)).size
    if size != settings.photo:
        raise SystemExit(f"denoise answered a {size[0]}x{size[1]} photo for a {settings.photo} one")
    return {
        "camera_vs_in_process": difference(served, expected),
        "denoise_output": {"bytes": len(encoded), "size": list(size), "pipeline": info.get("pipeline")},
    }


def shm_fits(settings: Settings, free_gib: float) -> bool:
    """Whether /dev/shm holds a slot per stream (a frame in, its x2 out: 15 bytes a pixel) and a GiB for the
    python backend's own regions; else frames travel over gRPC."""
    return free_gib * 2**30 > max(settings.levels) * 15 * settings.frame[0] * settings.frame[1] + 2**30


def served(root: Path, settings: Settings, phases: Phases, frames: list[np.ndarray]) -> bool:
    """Start Triton (GPU instances on CUDA, CPU instances if those fail to load), check, prime and measure."""
    from lumaflow.bench.gpu_load import prime
    from lumaflow.ensemble.stages import STAGES
    from lumaflow.server.distribution import ServeError
    from lumaflow.server.process import running_server

    report = phases.report
    for kind in ("GPU", "CPU") if settings.device.startswith("cuda") else ("CPU",):
        render_repository(root, settings, kind)
        started, up = time.monotonic(), False
        try:
            with running_server(root) as server:
                up = True
                url = server.endpoints.grpc_url
                report.update(instance_kind=kind, server_start_s=round(time.monotonic() - started, 1))
                report["check"] = check_served(url, root, settings, frames)
                report["camera_shm"] = shm_fits(settings, report["dev_shm_free_gib"])
                report["prime_s"] = prime(url, STAGES[CAMERA_STAGE], frames, settings.instances, report["camera_shm"])
                phases.save()
                measure(url, root, settings, phases, frames)
            return True
        except ServeError as error:
            if up:
                raise
            report["triton_failures"].append(f"KIND_{kind}: {error}")
            phases.save()
    return False


class Phases:
    """Runs what fits in the budget, records what did not, and rewrites the report after each phase."""

    def __init__(self, report: dict[str, Any], settings: Settings, began: float) -> None:
        self.report, self.settings, self.began = report, settings, began

    def fits(self, name: str, seconds: float) -> bool:
        if time.monotonic() - self.began + seconds <= self.settings.budget_s:
            return True
        self.report["skipped"].append(f"{name}: over the {self.settings.budget_s:g} s budget")
        return False

    def save(self) -> None:
        self.report["elapsed_s"] = round(time.monotonic() - self.began, 1)
        (self.settings.out / "gpu_triton.json").write_text(json.dumps(self.report, indent=1, default=str) + "\n")


def measure(url: str, root: Path, settings: Settings, phases: Phases, frames: list[np.ndarray]) -> None:
    """The camera levels (batched first, then unbatched, the issue's 4 and 16 streams before the others)."""
    from lumaflow.bench.gpu_load import camera_level, photo_level
    from lumaflow.client.protocol import photo_inputs

    report, timing = phases.report, (settings.warm_s, settings.seconds)
    one_level = settings.warm_s + settings.seconds + 3
    shm = report["camera_shm"]
    first = [level for level in (4, 16) if level in settings.levels]
    order = [*first, *(level for level in settings.levels if level not in first)]
    for level in order:
        for name, model in (("batched", CAMERA), ("unbatched", CAMERA + UNBATCHED)):
            if phases.fits(f"camera {name} {level} streams", one_level):
                network = CAMERA_STAGE + ("" if name == "batched" else UNBATCHED)
                row = camera_level(url, model, network, frames, level, timing, instances=settings.instances, shm=shm)
                report["camera"][name].append(row)
                print(_camera_line(name, row), flush=True)
                phases.save()
    payloads = photo_requests(settings)
    for index, clients in enumerate(settings.photo_clients):
        if phases.fits(f"denoise {clients} clients", one_level + 2 * settings.warm_s):
            make = lambda: [photo_inputs(data, PHOTO_OPTIONS) for data in payloads]  # noqa: E731
            warm = settings.warm_s * (3 if index == 0 else 1)  # the first level captures ffdnet's batch sizes
            row = photo_level(
                url, PHOTO, PHOTO_STAGE, make, clients, (warm, settings.seconds), instances=settings.instances
            )
            report["denoise"].append(row)
            print(f"denoise {clients:>2} clients: {row['per_s']:8.2f} photos/s p99 {row['p99_ms']:8.1f} ms", flush=True)
            phases.save()


def _camera_line(name: str, row: dict[str, Any]) -> str:
    network = row["network"]
    return (
        f"camera {name:<9} {row['callers']:>2} streams: {row['per_s']:8.1f} frames/s  p50 {row['p50_ms']:7.1f} ms  "
        f"p99 {row['p99_ms']:7.1f} ms  batch {network['average_batch']:4.2f}  failed {sum(row['failed'].values())}"
    )


def profile(root: Path, settings: Settings, report: dict[str, Any], frames: list[np.ndarray]) -> None:
    """Kernel time of the camera artefact at the batch sizes Triton formed most, against Triton's compute_infer."""
    from lumaflow.bench.gpu_load import profile_engine

    executions: dict[int, list[float]] = {}
    for row in report["camera"]["batched"]:
        for size, entry in row["network"]["by_batch"].items():
            executions.setdefault(int(size), []).extend([entry["compute_infer_ms"]] * entry["executions"])
    sizes = sorted(executions, key=lambda size: -len(executions[size]))[:2] or [1]
    rows = []
    for size in sorted(sizes):
        feed = {"PIXELS": np.stack([frames[index % len(frames)] for index in range(size)])}
        triton_ms = float(np.mean(executions[size])) if size in executions else None
        for graphs in (True, False):
            row = profile_engine(root / CAMERA_STAGE / "1" / "model.ts", feed, 10, graphs)
            row["batch"] = size
            row["triton_compute_infer_ms"] = triton_ms
            row["kernel_share_of_compute_infer"] = row["kernel_ms_per_call"] / triton_ms if triton_ms else None
            rows.append(row)
    report["profile"] = rows


def summarize(report: dict[str, Any]) -> None:
    from lumaflow.bench.gpu_load import best_under

    summary: dict[str, Any] = {}
    for name in ("batched", "unbatched"):
        best = best_under(report["camera"][name], SLO_MS)
        summary[f"camera_{name}_best_under_{SLO_MS:g}ms"] = None if best is None else {
            "streams": best["callers"], "frames_per_s": best["per_s"], "p99_ms": best["p99_ms"]
        }  # fmt: skip
    batched, unbatched = (summary[f"camera_{name}_best_under_{SLO_MS:g}ms"] for name in ("batched", "unbatched"))
    if batched and unbatched:
        summary["batching_gain_at_slo"] = batched["frames_per_s"] / unbatched["frames_per_s"]
    pairs = zip(report["camera"]["batched"], report["camera"]["unbatched"], strict=False)
    summary["batching_gain_by_streams"] = {a["callers"]: a["per_s"] / b["per_s"] for a, b in pairs if b["per_s"]}
    report["summary"] = summary


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# Triton on {report['device_name']} ({report['device']}), torch {report['torch']}",
        "",
        f"camera_x2 {report['settings']['frame']} frames in, x2 out; denoise {report['settings']['photo']} JPEG.",
        "",
        "| pipeline | batching | callers | per s | p50 ms | p99 ms | batch | queue ms | infer ms/execution | GPU % |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    rows = [("camera_x2", name, row) for name in ("batched", "unbatched") for row in report["camera"][name]]
    rows += [("denoise", "ffdnet", row) for row in report["denoise"]]
    for pipeline, name, row in rows:
        network, gpu = row["network"], row.get("gpu") or {}
        per_exec = network["compute_infer_ms_per_execution"]
        cells = [pipeline, name, row["callers"], f"{row['per_s']:.1f}", f"{row['p50_ms']:.1f}", f"{row['p99_ms']:.1f}"]
        cells += [f"{network['average_batch']:.2f}", f"{row['network_queue_ms'] or 0:.2f}"]
        cells += ["–" if per_exec is None else f"{per_exec:.2f}", gpu.get("gpu_util_percent", "–")]
        lines.append("| " + " | ".join(str(cell) for cell in cells) + " |")
    keys = ("summary", "profile", "check", "triton_failures", "direct", "skipped")
    lines += ["", "```", json.dumps({key: report.get(key) for key in keys}, indent=1, default=str)]
    return "\n".join([*lines, "```", ""])


def strict_problems(report: dict[str, Any]) -> list[str]:
    """What a dry run must not have: a skipped phase, a level without answers or with failures, a served
    frame unlike the artefact's own output."""
    problems = list(report["skipped"])
    levels = [*report["camera"]["batched"], *report["camera"]["unbatched"], *report["denoise"]]
    problems += [f"a level of {row['callers']} answered {row['answered']}, failed {row['failed']}" for row in levels
                 if not row["answered"] or row["failed"]]  # fmt: skip
    if report["check"]["camera_vs_in_process"]["max_abs_diff"] > 1:
        problems.append(f"served frame differs: {report['check']['camera_vs_in_process']}")
    if "profile" not in report:
        problems.append("no profile")
    return problems


def run(settings: Settings) -> dict[str, Any]:
    began = time.monotonic()
    import torch

    os.environ["LUMAFLOW_TORCH_DEVICE"] = settings.device  # the engine's device, inherited by every stub
    os.environ.setdefault("LUMAFLOW_LOG_DIR", str(settings.out / "logs"))  # a failed start's log comes back too
    cuda = settings.device.startswith("cuda")
    report: dict[str, Any] = {
        "device": settings.device,
        "device_name": torch.cuda.get_device_name() if cuda else platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "triton_root": os.environ.get(gpu_stage.ROOT_VARIABLE, "installed nvidia-pytriton"),
        "settings": {key: str(value) for key, value in asdict(settings).items()},
        "camera": {"batched": [], "unbatched": []},
        "denoise": [],
        "skipped": [],
        "triton_failures": [],
        "dev_shm_free_gib": round(shutil.disk_usage("/dev/shm").free / 2**30, 1) if Path("/dev/shm").is_dir() else 0,
    }
    settings.out.mkdir(parents=True, exist_ok=True)
    phases = Phases(report, settings, began)
    frames = camera_frames(settings)
    with tempfile.TemporaryDirectory(prefix="lumaflow-gpu-repo-") as scratch:
        root = Path(scratch)
        render_repository(root, settings, "CPU")
        export_artifacts(root, settings, report)
        phases.save()
        from lumaflow.bench.gpu_load import direct_levels

        if served(root, settings, phases, frames):
            summarize(report)
        else:  # no Triton: the artefact alone, in this process, so the run still says what the GPU does
            report["direct"] = direct_levels(root / CAMERA_STAGE / "1" / "model.ts", frames, settings.seconds / 3)
        if phases.fits("profile", 30):
            profile(root, settings, report, frames)
    phases.save()
    (settings.out / "gpu_triton.md").write_text(markdown(report))
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", type=Path, default=gpu_stage.DEFAULT_STAGE, help="the staged Triton (gpu_stage)")
    parser.add_argument("--installed", action="store_true", help="the installed nvidia-pytriton, no stage")
    parser.add_argument("--device", default="", help="cuda or cpu (default: cuda when torch sees one)")
    parser.add_argument("--out", type=Path, default=Path("bench-results/gpu_triton"))
    parser.add_argument("--frame", type=_size, default=(1920, 1080), help="camera frame WxH (input; output x2)")
    parser.add_argument("--photo", type=_size, default=(1920, 1080), help="denoise photo WxH")
    parser.add_argument("--levels", default="1,4,8,16", help="camera streams per level")
    parser.add_argument("--photo-clients", default="1,4")
    parser.add_argument("--seconds", type=float, default=8.0, help="measured seconds per level")
    parser.add_argument("--warm-s", type=float, default=2.0, help="unmeasured seconds before each level")
    parser.add_argument("--budget-s", type=float, default=300.0, help="start no phase that would end later")
    parser.add_argument("--instances", type=int, default=0, help="instances per stage (default: 2 on CUDA, 1 on CPU)")
    parser.add_argument("--check-onnx", action="store_true", help="build the ONNX graphs if missing and match them")
    parser.add_argument("--strict", action="store_true", help="fail unless every phase ran and every request passed")
    args = parser.parse_args(argv)
    if not args.installed and gpu_stage.READY_VARIABLE not in os.environ:
        gpu_stage.run(args.stage, gpu_stage.DEFAULT_DEST, sys.argv[1:])  # unpack, then this again in the overlay
    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    settings = Settings(
        device=device,
        out=args.out,
        frame=args.frame,
        photo=args.photo,
        levels=tuple(int(level) for level in args.levels.split(",")),
        photo_clients=tuple(int(level) for level in args.photo_clients.split(",")),
        seconds=args.seconds,
        warm_s=args.warm_s,
        budget_s=args.budget_s,
        instances=args.instances or (2 if device.startswith("cuda") else 1),
        check_onnx=args.check_onnx,
    )
    report = run(settings)
    print(markdown(report))
    if args.strict:
        problems = strict_problems(report)
        if problems:
            raise SystemExit("gpu_triton --strict: " + "; ".join(problems))


if __name__ == "__main__":
    main()

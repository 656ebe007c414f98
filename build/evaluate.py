"""``lumaflow eval``: a labelled benchmark of the photo pipelines on real photos never trained on.

Eight photos (scikit-image's astronaut, coffee, chelsea, rocket; sporco's monarch, kodim23, sail,
tulips), decoded by Pillow, centre-cropped to ``--crop`` and to a multiple of 4, are degraded with
fixed seeds, restored by each pipeline and by a classical baseline, and scored against the original:

- ``x2`` / ``x4``: Pillow bicubic down by 2 / 4; ``upscale_x2`` (also followed by ``refine``) and
  ``upscale_x2_fast`` / ``upscale_x4`` (also with ``refine``), ``upscale_x4_fast`` and
  ``upscale_x4_realistic`` against Pillow bicubic up;
- ``denoise``: Gaussian noise σ 15/25/50 (uint8, clipped); ``denoise`` told σ in OPTIONS and left to
  its estimator, against a radius-1 Gaussian blur and non-local means (``lumaflow.build.denoise``);
- ``dejpeg``: Pillow JPEG at quality 10/20/30; ``dejpeg`` (our ``deblock``) and ``dejpeg_waifu2x``
  against the decoded JPEG itself;
- ``camera_x2``: as x2, clean and with camera noise and JPEG; ``camera_x2``, ``camera_x2_int8`` and
  ``upscale_x2_fast`` against bicubic;
- ``camera_x1``: re-exposed in linear light with sensor noise; ``camera_x1`` against the input,
  Pillow's autocontrast and the best single gamma (an oracle that sees the original);
- ``lowlight``: the held-out low-light conditions of the ``low_light`` recipe (-1.5, -2.5, -3.5 EV with
  sensor noise, gamma 2.5); the ``lowlight`` pipeline against the same three baselines.

x2, x4, camera_x2 and dejpeg are scored in Y-PSNR and SSIM on BT.601 luma with ``border = scale`` pixels left
out (as ``lumaflow.build.eval``, the SR papers' convention); denoise, camera_x1 and lowlight in RGB PSNR and SSIM (as
published denoising results). Offline (the default) the pipelines' ONNX graphs run through the same request
functions as the server (``lumaflow.build.offline``); ``--url`` sends the same files to a running server.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from lumaflow.build.baselines import autocontrast, best_gamma
from lumaflow.build.denoise import add_gaussian_noise, center_crop, gaussian_blur, nl_means
from lumaflow.build.eval import rgb_to_y, y_psnr
from lumaflow.build.noise import estimate_noise_sigma
from lumaflow.build.offline import REPOSITORY, OfflineServer
from lumaflow.build.photos import BENCHMARK_PHOTOS, MissingPhotosError, benchmark_photos, crop_to_multiple
from lumaflow.build.recipes import EXPOSURES, LOW_LIGHT, camera_lr, exposed
from lumaflow.ensemble.pipelines import PIPELINES, Pipeline

THREADS = 2  # each stage's own (StageParams.intra_op_threads); all are 2 today
SIGMAS: tuple[int, ...] = (15, 25, 50)
QUALITIES: tuple[int, ...] = (10, 20, 30)
DEFAULT_CROP = 384
STRIP_SIDE = 128
_BICUBIC = Image.Resampling.BICUBIC
DEGRADATIONS = {
    "x2": "Pillow bicubic (antialiased) to 1/2 size, sent as PNG; baseline: Pillow bicubic back up",
    "x4": "Pillow bicubic (antialiased) to 1/4 size, sent as PNG; baseline: Pillow bicubic back up",
    "denoise": "+ N(0, σ²) per value, rounded and clipped to uint8, seed 1000 × photo index + σ, sent as PNG; "
    "baselines: Gaussian blur radius 1, scikit-image NLM (h 0.8σ, patch 5, distance 6, fast)",
    "dejpeg": "Pillow JPEG at the quality (4:2:0), sent as that JPEG; baseline: the decoded JPEG",
    "camera_x2": "as x2 (clean), or x2 then N(0, 3²) and JPEG q80 (camera), sent as PNG; baseline: bicubic up",
    "lowlight": "re-exposed by the EV in linear light with shot + read noise, or darkened by a gamma of 2.5 with"
    " noise σ 2, sent as PNG; baselines: the input, Pillow autocontrast (1% cutoff), the best single gamma (an oracle)",
    "camera_x1": "re-exposed by the EV in linear light with shot + read noise, sent as PNG; baselines: the input, "
    "Pillow autocontrast (1% cutoff), the best single gamma in [0.2, 3] chosen against the original (an oracle)",
}

# (pixels, seconds of network time) for one encoded input through one pipeline with OPTIONS.
Runner = Callable[[Pipeline, bytes, Mapping[str, Any]], tuple[np.ndarray, float]]


# --- running a pipeline --------------------------------------------------------------------------

_OFFLINE: dict[bool, OfflineServer] = {}
# The benchmark scores pixels: the quality check's verdict is not needed, and its network's time is not the pipeline's.
NO_QUALITY_CHECK = {"quality_check": False}


def offline_server(untiled: bool = False) -> OfflineServer:
    """One in-process server per mode for the whole run (each graph opened once)."""
    if untiled not in _OFFLINE:
        _OFFLINE[untiled] = OfflineServer(REPOSITORY, untiled=untiled)
    return _OFFLINE[untiled]


def run_offline_timed(pipeline: Pipeline, data: bytes, options: Mapping[str, Any]) -> tuple[np.ndarray, float]:
    """`run_offline`, and the wall time of the pipeline's own stage calls in seconds."""
    result = offline_server().run(pipeline, data, {**NO_QUALITY_CHECK, **options})
    return result.pixels, result.stage_seconds


def run_offline(
    pipeline: Pipeline, data: bytes, options: Mapping[str, Any], mask: bytes | None = None, *, untiled: bool = False
) -> np.ndarray:
    """What the served pipeline returns for `data` and OPTIONS `options`, computed without a server
    (``lumaflow.build.offline``); ``untiled`` runs each stage on the whole photo, the tiling's reference."""
    return offline_server(untiled).run(pipeline, data, options, mask).pixels


def analyse_offline(pixels: np.ndarray) -> dict[str, float]:
    """What decode's BLS call to the analysis stage returns, from the same graph."""
    return offline_server().analysis(pixels)


def url_runner(url: str, timeout_s: float = 600.0) -> Runner:
    """A runner that sends IMAGE and OPTIONS to the pipeline served at `url` (gRPC) and decodes ENHANCED (PNG)."""
    import tritonclient.grpc as grpcclient

    client = grpcclient.InferenceServerClient(url)

    def run(pipeline: Pipeline, data: bytes, options: Mapping[str, Any]) -> tuple[np.ndarray, float]:
        image = grpcclient.InferInput("IMAGE", [1, 1], "BYTES")
        image.set_data_from_numpy(np.array([[data]], dtype=np.object_))
        sent = grpcclient.InferInput("OPTIONS", [1, 1], "BYTES")
        chosen = {**NO_QUALITY_CHECK, **options, "format": "png"}
        sent.set_data_from_numpy(np.array([[json.dumps(chosen).encode()]], dtype=np.object_))
        started = time.perf_counter()
        result = client.infer(pipeline.name, [image, sent], client_timeout=timeout_s)
        seconds = time.perf_counter() - started
        return decode_png(result.as_numpy("ENHANCED")[0, 0]), seconds

    return run


# --- degradations and metrics --------------------------------------------------------------------


def encode_png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def encode_jpeg(pixels: np.ndarray, quality: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=int(quality))
    return buffer.getvalue()


def decode_png(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"), dtype=np.uint8)


def resize(pixels: np.ndarray, width: int, height: int, resample: Image.Resampling = _BICUBIC) -> np.ndarray:
    return np.asarray(Image.fromarray(pixels).resize((width, height), resample))


def y_ssim(a: np.ndarray, b: np.ndarray, border: int) -> float:
    """SSIM of the BT.601 luma of two uint8 RGB images (data range 255), `border` px left out."""
    ya, yb = rgb_to_y(a), rgb_to_y(b)
    if border:
        ya, yb = ya[border:-border, border:-border], yb[border:-border, border:-border]
    return float(structural_similarity(ya, yb, data_range=255))


def score(task: Task, restored: np.ndarray, clean: np.ndarray) -> tuple[float, float]:
    """(PSNR dB, SSIM) of `restored` against `clean` in the task's metric."""
    if restored.shape != clean.shape:
        raise ValueError(f"shape mismatch: {restored.shape} vs {clean.shape}")
    if task.metric == "rgb":
        return (
            float(peak_signal_noise_ratio(clean, restored, data_range=255)),
            float(structural_similarity(clean, restored, data_range=255, channel_axis=-1)),
        )
    border = task.scale
    return y_psnr(restored, clean, border), y_ssim(restored, clean, border)


# --- tasks ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ours:
    """A pipeline as the benchmark runs it: its label in the tables, and whether it is told σ.

    ``steps`` replaces the pipeline's neural stages (offline only): a comparison with a stage that
    no pipeline serves (the shipped network a pipeline replaced, a camera stage, a refinement).
    """

    label: str
    pipeline: str
    tell_sigma: bool = False
    steps: tuple[str, ...] = ()

    def resolve(self) -> Pipeline:
        base = PIPELINES[self.pipeline]
        if not self.steps:
            return base
        return replace(base, name=self.label, steps=self.steps)


@dataclass(frozen=True)
class Task:
    name: str
    scale: int
    metric: str  # "y": Y-PSNR / Y-SSIM, border = scale; "rgb": RGB PSNR / SSIM
    baselines: tuple[str, ...]
    reference: str  # the classical baseline the gain is over
    ours: tuple[Ours, ...]

    @property
    def metric_text(self) -> str:
        if self.metric == "rgb":
            return "RGB PSNR dB / SSIM (data range 255)"
        return f"Y-PSNR dB / SSIM on BT.601 Y (data range 255), border {self.scale} px"

    @property
    def methods(self) -> tuple[str, ...]:
        return (*self.baselines, *(ours.label for ours in self.ours))


TASKS: dict[str, Task] = {
    "x2": Task(
        "x2",
        2,
        "y",
        ("bicubic",),
        "bicubic",
        (
            Ours("upscale_x2", "upscale_x2"),
            Ours("upscale_x2 + refine", "upscale_x2", steps=("waifu2x_x2", "refine")),
            Ours("upscale_x2_fast", "upscale_x2_fast"),
        ),
    ),
    "x4": Task(
        "x4",
        4,
        "y",
        ("bicubic",),
        "bicubic",
        (
            Ours("upscale_x4", "upscale_x4"),
            Ours("upscale_x4 + refine", "upscale_x4", steps=("srmd_x4", "refine")),
            Ours("upscale_x4_fast", "upscale_x4_fast"),
            Ours("upscale_x4_realistic", "upscale_x4_realistic"),
        ),
    ),
    "denoise": Task(
        "denoise",
        1,
        "rgb",
        ("noisy", "blur", "nlm"),
        "nlm",
        (Ours("denoise", "denoise", tell_sigma=True), Ours("denoise_estimated", "denoise")),
    ),
    "dejpeg": Task(
        "dejpeg",
        1,
        "y",
        ("jpeg",),
        "jpeg",
        (Ours("dejpeg", "dejpeg"), Ours("dejpeg_waifu2x", "dejpeg_waifu2x")),
    ),
    "camera_x2": Task(
        "camera_x2",
        2,
        "y",
        ("bicubic",),
        "bicubic",
        (
            Ours("camera_x2", "upscale_x2_fast", steps=("camera_sr_x2",)),
            Ours("camera_x2_int8", "upscale_x2_fast", steps=("camera_sr_x2_int8",)),
            Ours("upscale_x2_fast", "upscale_x2_fast"),
        ),
    ),
    "lowlight": Task(
        "lowlight",
        1,
        "rgb",
        ("input", "autocontrast", "best_gamma"),
        "best_gamma",
        (Ours("lowlight", "lowlight"),),
    ),
    "camera_x1": Task(
        "camera_x1",
        1,
        "rgb",
        ("input", "autocontrast", "best_gamma"),
        "input",
        (Ours("camera_x1", "denoise", steps=("camera_restore_x1",)),),
    ),
}


@dataclass(frozen=True)
class Level:
    task: str
    key: str  # report key and strip name part: x2, x4, sigma25, q20
    value: float  # scale, σ or JPEG quality


def levels_for(task: str, sigmas: Sequence[int], qualities: Sequence[int]) -> list[Level]:
    if task in ("x2", "x4"):
        return [Level(task, task, TASKS[task].scale)]
    if task == "camera_x2":
        return [Level(task, "clean", 2), Level(task, "camera", 2)]
    if task == "lowlight":
        return [Level(task, key, 0.0) for key in LOW_LIGHT]
    if task == "camera_x1":
        return [Level(task, key, stops) for key, (stops, _noise) in EXPOSURES.items()]
    if task == "denoise":
        return [Level(task, f"sigma{sigma:g}", float(sigma)) for sigma in sigmas]
    return [Level(task, f"q{quality}", float(quality)) for quality in qualities]


@dataclass(frozen=True)
class Degraded:
    """One degraded photo: the file the pipelines get, its pixels, and the classical baselines' outputs."""

    data: bytes
    pixels: np.ndarray
    baselines: dict[str, np.ndarray]


def degrade(level: Level, clean: np.ndarray, seed: int) -> Degraded:
    height, width = clean.shape[:2]
    if level.task in ("x2", "x4", "camera_x2"):
        factor = int(level.value)
        small = resize(clean, width // factor, height // factor)
        if level.key == "camera":
            small = camera_lr(small, seed)
        return Degraded(encode_png(small), small, {"bicubic": resize(small, width, height)})
    if level.task == "lowlight":
        dark = LOW_LIGHT[level.key](clean, seed)
        baselines = {"input": dark, "autocontrast": autocontrast(dark), "best_gamma": best_gamma(dark, clean)}
        return Degraded(encode_png(dark), dark, baselines)
    if level.task == "camera_x1":
        stops, noise = EXPOSURES[level.key]
        dark = exposed(clean, seed, stops, noise)
        baselines = {
            "input": dark,
            "autocontrast": autocontrast(dark),
            "best_gamma": best_gamma(dark, clean),
        }
        return Degraded(encode_png(dark), dark, baselines)
    if level.task == "denoise":
        noisy = add_gaussian_noise(clean, level.value, seed)
        baselines = {"noisy": noisy, "blur": gaussian_blur(noisy), "nlm": nl_means(noisy, level.value)}
        return Degraded(encode_png(noisy), noisy, baselines)
    data = encode_jpeg(clean, int(level.value))
    decoded = decode_png(data)  # Pillow decodes JPEG too
    return Degraded(data, decoded, {"jpeg": decoded})


def strip(panels: Sequence[np.ndarray], side: int = STRIP_SIDE, gap: int = 4) -> np.ndarray:
    """The same centre window of each panel (all at output size), side by side with white gaps."""
    height, width = panels[0].shape[:2]
    ch, cw = min(side, height), min(side, width)
    top, left = (height - ch) // 2, (width - cw) // 2
    crops = [panel[top : top + ch, left : left + cw] for panel in panels]
    white = np.full((ch, gap, 3), 255, dtype=np.uint8)
    parts: list[np.ndarray] = []
    for crop in crops:
        parts.extend((crop, white))
    return np.concatenate(parts[:-1], axis=1)


# --- the benchmark -------------------------------------------------------------------------------


def prepare_photos(names: Sequence[str], crop: int) -> dict[str, np.ndarray]:
    """The named benchmark photos, centre-cropped to `crop` (0: whole) and to a multiple of 4."""
    photos = benchmark_photos(tuple(names))
    return {
        name: np.ascontiguousarray(crop_to_multiple(center_crop(image, crop) if crop else image, 4))
        for name, image in photos.items()
    }


def machine_info(mode: str) -> dict[str, Any]:
    return {
        "cpu_count": os.cpu_count(),
        "affinity_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "onnxruntime": version("onnxruntime"),
        "threads": THREADS,
        "timing": "wall time of the ONNX Runtime calls" if mode == "offline" else "wall time of the gRPC request",
    }


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if values else float("nan")


def evaluate(
    photos: Mapping[str, np.ndarray],
    tasks: Sequence[str],
    runner: Runner,
    out_dir: Path,
    *,
    sigmas: Sequence[int] = SIGMAS,
    qualities: Sequence[int] = QUALITIES,
    mode: str = "offline",
    settings: Mapping[str, Any] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Score every task on every photo; write report.json, report.md and strips/ under `out_dir`.

    Each pipeline runs once untimed before its first timed call, so CPU time is the steady state.
    """
    from tqdm import tqdm

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "strips").mkdir(exist_ok=True)
    work = [(task, level) for task in tasks for level in levels_for(task, sigmas, qualities)]
    report_tasks: dict[str, Any] = {}
    warm: set[str] = set()
    with tqdm(total=len(work) * len(photos), desc="lumaflow eval", unit="photo", disable=not progress) as bar:
        for task_name, level in work:
            task = TASKS[task_name]
            per_method: dict[str, dict[str, dict[str, Any]]] = {method: {} for method in task.methods}
            for name, clean in photos.items():
                bar.set_postfix_str(f"{level.key} {name}")
                seed = 1000 * BENCHMARK_PHOTOS.index(name) + int(level.value) if name in BENCHMARK_PHOTOS else 0
                degraded = degrade(level, clean, seed)
                outputs = dict(degraded.baselines)
                for method, restored in degraded.baselines.items():
                    psnr, ssim = score(task, restored, clean)
                    per_method[method][name] = {"psnr": psnr, "ssim": ssim}
                for ours in task.ours:
                    if ours.steps and mode != "offline":
                        continue  # not a served pipeline: only the offline runner can run it
                    options = {"noise_level": level.value} if ours.tell_sigma else {}
                    pipeline = ours.resolve()
                    if ours.label not in warm:  # time the steady state, not the first call's allocations
                        runner(pipeline, degraded.data, options)
                        warm.add(ours.label)
                    restored, seconds = runner(pipeline, degraded.data, options)
                    outputs[ours.label] = restored
                    psnr, ssim = score(task, restored, clean)
                    megapixels = restored.shape[0] * restored.shape[1] / 1e6
                    entry = {"psnr": psnr, "ssim": ssim, "seconds": seconds, "output_megapixels": megapixels}
                    if task.name == "denoise" and not ours.tell_sigma:
                        entry["estimated_sigma"] = analyse_offline(degraded.pixels)["noise_sigma"]
                        entry["classical_sigma"] = estimate_noise_sigma(degraded.pixels)
                    per_method[ours.label][name] = entry
                height, width = clean.shape[:2]
                shown = resize(degraded.pixels, width, height, Image.Resampling.NEAREST)
                first = next(ours.label for ours in task.ours if ours.label in outputs)
                panels = (shown, outputs[task.reference], outputs[first], clean)
                Image.fromarray(strip(panels)).save(out_dir / "strips" / f"{task.name}_{name}_{level.key}.png")
                bar.update(1)
            report_tasks.setdefault(task.name, {"metric": task.metric_text, "reference": task.reference, "levels": {}})
            report_tasks[task.name]["levels"][level.key] = _summarise(task, level, per_method)
        for task_name in tasks:
            report_tasks[task_name]["cpu_s_per_megapixel"] = _cpu(TASKS[task_name], report_tasks[task_name])
    report = {
        "benchmark": "lumaflow eval",
        "mode": mode,
        "machine": machine_info(mode),
        "settings": {
            **(settings or {}),
            "photos": list(photos),
            "sizes": {n: list(p.shape[:2]) for n, p in photos.items()},
        },
        "degradations": DEGRADATIONS,
        "tasks": report_tasks,
        "targets": _targets(report_tasks),
    }
    (out_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (out_dir / "report.md").write_text(markdown(report))
    return report


def _summarise(task: Task, level: Level, per_method: dict[str, dict[str, dict[str, Any]]]) -> dict[str, Any]:
    reference = _mean([p["psnr"] for p in per_method[task.reference].values()])
    methods = {}
    for method, photos in per_method.items():
        if not photos:
            continue  # an offline-only comparison in --url mode
        mean_psnr = _mean([p["psnr"] for p in photos.values()])
        mean: dict[str, float] = {
            "psnr": mean_psnr,
            "ssim": _mean([p["ssim"] for p in photos.values()]),
            "gain_db": mean_psnr - reference,
        }
        if any("seconds" in p for p in photos.values()):
            seconds = sum(p["seconds"] for p in photos.values())
            megapixels = sum(p["output_megapixels"] for p in photos.values())
            mean["s_per_megapixel"] = seconds / megapixels
        if any("estimated_sigma" in p for p in photos.values()):
            mean["estimated_sigma"] = _mean([p["estimated_sigma"] for p in photos.values()])
        methods[method] = {"mean": mean, "photos": photos}
    return {"value": level.value, "methods": methods}


def _cpu(task: Task, summary: dict[str, Any]) -> dict[str, float]:
    """Seconds per output megapixel of each pipeline over all the task's levels and photos."""
    cpu = {}
    for ours in task.ours:
        levels = [level for level in summary["levels"].values() if ours.label in level["methods"]]
        photos = [p for level in levels for p in level["methods"][ours.label]["photos"].values()]
        if not photos:
            continue
        cpu[ours.label] = sum(p["seconds"] for p in photos) / sum(p["output_megapixels"] for p in photos)
    return cpu


def _targets(tasks: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The acceptance targets whose task ran: x2 gain over bicubic, denoise σ25 gain over NLM."""
    checks = [("x2", "x2", "upscale_x2", 2.3), ("denoise", "sigma25", "denoise", 1.0)]
    targets = []
    for task, level, method, required in checks:
        if task in tasks and level in tasks[task]["levels"]:
            gain = tasks[task]["levels"][level]["methods"][method]["mean"]["gain_db"]
            reference = tasks[task]["reference"]
            targets.append(
                {
                    "target": f"{method} {level} >= {reference} + {required} dB",
                    "gain_db": round(gain, 3),
                    "required_db": required,
                    "met": bool(gain >= required),
                }
            )
    return targets


def markdown(report: Mapping[str, Any]) -> str:
    machine = report["machine"]
    settings = report["settings"]
    lines = [
        f"# lumaflow eval ({report['mode']})",
        "",
        f"Machine: {machine['cpu_count']} CPUs, {machine['platform']}, {machine['processor']}, "
        f"ONNX Runtime {machine['onnxruntime']}, {machine['threads']} threads; CPU time is "
        f"{machine['timing']}, per megapixel of output.",
        f"Photos ({len(settings['photos'])}): {', '.join(settings['photos'])}; "
        f"centre crop {settings.get('crop') or 'none'}, to a multiple of 4. "
        "Cells: mean PSNR dB / SSIM (gain in dB over the classical reference).",
    ]
    for name, task in report["tasks"].items():
        levels = task["levels"]
        methods = list(next(iter(levels.values()))["methods"])
        lines += ["", f"## {name}: {task['metric']}; gain over {task['reference']}", ""]
        lines.append("| method | " + " | ".join(levels) + " | CPU s/MP |")
        lines.append("| --- |" + " --- |" * (len(levels) + 1))
        for method in methods:
            cells = []
            for level in levels.values():
                mean = level["methods"][method]["mean"]
                cell = f"{mean['psnr']:.2f} / {mean['ssim']:.4f} ({mean['gain_db']:+.2f})"
                if "estimated_sigma" in mean:
                    cell += f" σ̂ {mean['estimated_sigma']:.1f}"
                cells.append(cell)
            cpu = task["cpu_s_per_megapixel"].get(method)
            lines.append(f"| {method} | " + " | ".join(cells) + f" | {'' if cpu is None else f'{cpu:.2f}'} |")
    if report["targets"]:
        lines += ["", "## Targets", ""]
        for target in report["targets"]:
            verdict = "met" if target["met"] else "NOT met"
            lines.append(f"- {target['target']}: gain {target['gain_db']:+.2f} dB, {verdict}")
    return "\n".join(lines) + "\n"


# --- command line --------------------------------------------------------------------------------


def _int_list(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lumaflow eval", description="A labelled benchmark of the photo pipelines on real photos never trained on."
    )
    parser.add_argument("--url", help="HOST:PORT of a running server (gRPC); default: run the ONNX graphs offline")
    parser.add_argument("--out", default="eval", help="output folder (default: ./eval)")
    parser.add_argument("--tasks", default=",".join(TASKS), help=f"comma-separated (default: {','.join(TASKS)})")
    parser.add_argument("--photos", type=int, default=len(BENCHMARK_PHOTOS), help="the first N of the 8 photos")
    parser.add_argument("--crop", type=int, default=DEFAULT_CROP, help="centre crop side in px (0: whole photos)")
    parser.add_argument("--sigmas", type=_int_list, default=list(SIGMAS), help="denoise noise levels (15,25,50)")
    parser.add_argument("--qualities", type=_int_list, default=list(QUALITIES), help="dejpeg JPEG qualities (10,20,30)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = arguments().parse_args(argv)
    tasks = [task for task in args.tasks.split(",") if task]
    unknown = [task for task in tasks if task not in TASKS]
    if unknown or not tasks:
        print(f"lumaflow eval: error: unknown task(s) {unknown}; known: {', '.join(TASKS)}", file=sys.stderr)
        return 2
    if not 1 <= args.photos <= len(BENCHMARK_PHOTOS):
        print(f"lumaflow eval: error: --photos must be 1 to {len(BENCHMARK_PHOTOS)}", file=sys.stderr)
        return 2
    try:
        photos = prepare_photos(BENCHMARK_PHOTOS[: args.photos], args.crop)
    except MissingPhotosError as error:
        print(f"lumaflow eval: error: {error}", file=sys.stderr)
        return 1
    if args.url:
        runner, mode = url_runner(args.url), "url"
    else:
        from lumaflow.build.deploy import ensure_artifacts
        from lumaflow.build.errors import BuildError

        stages = sorted({step for task in tasks for ours in TASKS[task].ours for step in ours.resolve().steps})
        try:
            ensure_artifacts(REPOSITORY, stages=stages)
        except BuildError as error:
            print(f"lumaflow eval: error: {error}", file=sys.stderr)
            return 1
        runner, mode = run_offline_timed, "offline"
    settings = {"url": args.url, "crop": args.crop, "tasks": tasks, "sigmas": args.sigmas, "qualities": args.qualities}
    out = Path(args.out)
    try:
        report = evaluate(
            photos,
            tasks,
            runner,
            out,
            sigmas=args.sigmas,
            qualities=args.qualities,
            mode=mode,
            settings=settings,
            progress=not args.no_progress,
        )
    except Exception as error:
        if not args.url or type(error).__name__ != "InferenceServerException":
            raise
        print(f"lumaflow eval: error: the server at {args.url} failed a request: {error}", file=sys.stderr)
        return 1
    print(markdown(report), end="")
    print(f"wrote {out / 'report.json'}, {out / 'report.md'} and {out / 'strips'}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The report of ``lumaflow eval`` (build/evaluate.py): per-level means and gains, CPU time, the acceptance
targets, report.md, and the picture strips (degraded input, classical reference, ours, original).
"""

from __future__ import annotations

import os
import platform
from collections.abc import Mapping, Sequence
from importlib.metadata import version
from typing import Any

import numpy as np

from lumaflow.build.benchmark_tasks import Level, Task

THREADS = 2  # each stage's own (StageParams.intra_op_threads); all are 2 today
STRIP_SIDE = 128


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


BOOTSTRAP_RESAMPLES = 10_000


def bootstrap_interval(values: Sequence[float], resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0) -> list[float]:
    """The 95 % percentile bootstrap interval of the mean of `values` (one per photo), resampling photos."""
    data = np.asarray(values, dtype=np.float64)
    if data.size < 2:
        return [float(data.mean()), float(data.mean())] if data.size else [float("nan")] * 2
    picks = np.random.default_rng(seed).integers(0, data.size, size=(resamples, data.size))
    means = data[picks].mean(axis=1)
    return [float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))]


def summarise(task: Task, level: Level, per_method: dict[str, dict[str, dict[str, Any]]]) -> dict[str, Any]:
    """Each method's means over the photos, with its gain over the reference per photo (paired) and the gain's
    95 % bootstrap interval over photos."""
    reference_photos = per_method[task.reference]
    reference = _mean([p["psnr"] for p in reference_photos.values()])
    methods = {}
    for method, photos in per_method.items():
        if not photos:
            continue  # an offline-only comparison in --url mode
        mean_psnr = _mean([p["psnr"] for p in photos.values()])
        mean: dict[str, Any] = {
            "psnr": mean_psnr,
            "ssim": _mean([p["ssim"] for p in photos.values()]),
            "gain_db": mean_psnr - reference,
        }
        gains = [p["psnr"] - reference_photos[name]["psnr"] for name, p in photos.items() if name in reference_photos]
        mean["photos_n"] = len(gains)
        mean["gain_ci95"] = bootstrap_interval(gains)
        if any("seconds" in p for p in photos.values()):
            seconds = sum(p["seconds"] for p in photos.values())
            megapixels = sum(p["output_megapixels"] for p in photos.values())
            mean["s_per_megapixel"] = seconds / megapixels
        if any("estimated_sigma" in p for p in photos.values()):
            mean["estimated_sigma"] = _mean([p["estimated_sigma"] for p in photos.values()])
        methods[method] = {"mean": mean, "photos": photos}
    return {"value": level.value, "methods": methods}


def cpu_per_megapixel(task: Task, summary: dict[str, Any]) -> dict[str, float]:
    """Seconds per output megapixel of each pipeline over all the task's levels and photos."""
    cpu = {}
    for ours in task.ours:
        levels = [level for level in summary["levels"].values() if ours.label in level["methods"]]
        photos = [p for level in levels for p in level["methods"][ours.label]["photos"].values()]
        if not photos:
            continue
        cpu[ours.label] = sum(p["seconds"] for p in photos) / sum(p["output_megapixels"] for p in photos)
    return cpu


# (task, level, method, over, required dB): issue 25's acceptance, each a paired gain over photos whose 95 %
# bootstrap interval must also stay above 0.
TARGETS: tuple[tuple[str, str, str, str, float], ...] = (
    ("x2", "x2", "upscale_x2", "waifu2x_x2 (upscale_x2 until issue 25)", 0.8),
    ("x4", "x4", "upscale_x4", "srmd_x4 (upscale_x4 until issue 25)", 0.4),
    ("dejpeg", "q10", "dejpeg", "jpeg", 1.8),
    ("dejpeg", "q30", "dejpeg", "jpeg", 1.0),
    ("denoise", "sigma25", "denoise", "nlm", 1.0),
)


def targets(tasks: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The acceptance targets whose task, level and methods ran: the mean paired gain and its interval."""
    checks = []
    for task, level, method, over, required in TARGETS:
        methods = tasks.get(task, {}).get("levels", {}).get(level, {}).get("methods", {})
        if method not in methods or over not in methods:
            continue
        ours, theirs = methods[method]["photos"], methods[over]["photos"]
        gains = [ours[name]["psnr"] - theirs[name]["psnr"] for name in ours if name in theirs]
        gain, interval = float(np.mean(gains)), bootstrap_interval(gains)
        checks.append(
            {
                "target": f"{method} {level} >= {over} + {required} dB",
                "gain_db": round(gain, 3),
                "gain_ci95": [round(bound, 3) for bound in interval],
                "photos_n": len(gains),
                "required_db": required,
                "met": bool(gain >= required and interval[0] > 0),
            }
        )
    return checks


def markdown(report: Mapping[str, Any]) -> str:
    machine = report["machine"]
    settings = report["settings"]
    lines = [
        f"# lumaflow eval ({report['mode']})",
        "",
        f"Machine: {machine['cpu_count']} CPUs, {machine['platform']}, {machine['processor']}, "
        f"ONNX Runtime {machine['onnxruntime']}, {machine['threads']} threads; CPU time is "
        f"{machine['timing']}, per megapixel of output.",
        f"Photos: the {settings.get('photo_set', '')} set, n = {len(settings['photos'])} "
        f"({', '.join(settings['photos'])}); centre crop {settings.get('crop') or 'none'}, to a multiple of 4. "
        "Cells: mean PSNR dB / SSIM (mean gain in dB over the reference) [95 % bootstrap interval of that gain "
        f"over photos, {BOOTSTRAP_RESAMPLES} resamples].",
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
                low, high = mean.get("gain_ci95", (None, None))
                if low is not None and method != task["reference"]:
                    cell += f" [{low:+.2f}, {high:+.2f}]"
                if "estimated_sigma" in mean:
                    cell += f" σ̂ {mean['estimated_sigma']:.1f}"
                cells.append(cell)
            cpu = task["cpu_s_per_megapixel"].get(method)
            lines.append(f"| {method} | " + " | ".join(cells) + f" | {'' if cpu is None else f'{cpu:.2f}'} |")
    if report["targets"]:
        lines += ["", "## Targets", ""]
        for target in report["targets"]:
            verdict = "met" if target["met"] else "NOT met"
            low, high = target["gain_ci95"]
            lines.append(
                f"- {target['target']}: gain {target['gain_db']:+.2f} dB [{low:+.2f}, {high:+.2f}] over "
                f"{target['photos_n']} photos, {verdict}"
            )
    return "\n".join(lines) + "\n"

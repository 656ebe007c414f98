"""``lumaflow eval``: a labelled benchmark of the photo pipelines on real photos never trained on.

The photos of one set of `lumaflow.build.photo_sets` (``--set``: validation, where every choice is made, by
default; test for the figures docs/quality.md reports), decoded by Pillow, centre-cropped to ``--crop`` and to a
multiple of 4, are degraded with fixed seeds, restored by each pipeline and by classical baselines, and scored
against the original; every mean gain comes with the number of photos and a 95 % bootstrap interval over photos:

- ``x2`` / ``x4``: Pillow bicubic down by 2 / 4; ``upscale_x2`` (also followed by ``refine``) and
  ``upscale_x2_fast`` / ``upscale_x4`` (also with ``refine``), ``upscale_x4_fast`` and
  ``upscale_x4_realistic`` against Pillow bicubic up;
- ``denoise``: Gaussian noise σ 15/25/50 (uint8, clipped); ``denoise`` told σ in OPTIONS and left to
  its estimator, against a radius-1 Gaussian blur, non-local means as scikit-image's example runs it, NLM with
  the best h per photo (an oracle) and BM3D when installed (``lumaflow.build.denoise``);
- ``dejpeg``: Pillow JPEG at quality 10/20/30; ``dejpeg`` and ``dejpeg_waifu2x`` against the decoded JPEG
  itself and a classical deblocking (``lumaflow.build.jpeg_baselines``);
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
import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from lumaflow.build.benchmark_report import cpu_per_megapixel, machine_info, markdown, strip, summarise, targets
from lumaflow.build.benchmark_tasks import (
    DEGRADATIONS,
    QUALITIES,
    SIGMAS,
    TASKS,
    Degraded,
    Level,
    Ours,
    Task,
    decode_png,
    degrade,
    levels_for,
    prepare_photos,
    resize,
    score,
)
from lumaflow.build.noise import estimate_noise_sigma
from lumaflow.build.offline import REPOSITORY, OfflineServer
from lumaflow.build.photo_sets import PHOTOS, SETS, photos_in
from lumaflow.build.photos import MissingPhotosError
from lumaflow.ensemble.pipelines import Pipeline

DEFAULT_CROP = 384
# A photo's noise and degradation seeds come from its place in the manifest, whichever subset runs.
_MANIFEST_INDEX = {photo.name: index for index, photo in enumerate(PHOTOS)}

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


# --- the benchmark -------------------------------------------------------------------------------


def _run_ours(
    task: Task, ours: Ours, level: Level, degraded: Degraded, clean: np.ndarray, runner: Runner, warm: set[str]
) -> tuple[np.ndarray, dict[str, Any]]:
    """One of our pipelines on one degraded photo: its pixels, and their scores and timing."""
    options = {"noise_level": level.value} if ours.tell_sigma else {}
    pipeline = ours.resolve()
    if ours.label not in warm:  # time the steady state, not the first call's allocations
        runner(pipeline, degraded.data, options)
        warm.add(ours.label)
    restored, seconds = runner(pipeline, degraded.data, options)
    psnr, ssim = score(task, restored, clean)
    megapixels = restored.shape[0] * restored.shape[1] / 1e6
    entry = {"psnr": psnr, "ssim": ssim, "seconds": seconds, "output_megapixels": megapixels}
    if task.name == "denoise" and not ours.tell_sigma:
        entry["estimated_sigma"] = analyse_offline(degraded.pixels)["noise_sigma"]
        entry["classical_sigma"] = estimate_noise_sigma(degraded.pixels)
    return restored, entry


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
    only: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Score every task on every photo; write report.json, report.md and strips/ under `out_dir`.

    ``only`` runs just those of our pipelines (by label) and the cheap baselines: the NLM oracle and BM3D are left out.

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
                seed = 1000 * _MANIFEST_INDEX.get(name, 0) + int(level.value)
                degraded = degrade(level, clean, seed, costly_baselines=only is None)
                outputs = dict(degraded.baselines)
                for method, restored in degraded.baselines.items():
                    psnr, ssim = score(task, restored, clean)
                    per_method[method][name] = {"psnr": psnr, "ssim": ssim}
                for ours in task.ours:
                    if (only is not None and ours.label not in only) or (ours.steps and mode != "offline"):
                        continue  # not asked for, or not a served pipeline (only the offline runner can run it)
                    outputs[ours.label], per_method[ours.label][name] = _run_ours(
                        task, ours, level, degraded, clean, runner, warm
                    )
                height, width = clean.shape[:2]
                shown = resize(degraded.pixels, width, height, Image.Resampling.NEAREST)
                first = next(ours.label for ours in task.ours if ours.label in outputs)
                panels = (shown, outputs[task.reference], outputs[first], clean)
                Image.fromarray(strip(panels)).save(out_dir / "strips" / f"{task.name}_{name}_{level.key}.png")
                bar.update(1)
            report_tasks.setdefault(task.name, {"metric": task.metric_text, "reference": task.reference, "levels": {}})
            report_tasks[task.name]["levels"][level.key] = summarise(task, level, per_method)
        for task_name in tasks:
            report_tasks[task_name]["cpu_s_per_megapixel"] = cpu_per_megapixel(
                TASKS[task_name], report_tasks[task_name]
            )
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
        "targets": targets(report_tasks),
    }
    (out_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (out_dir / "report.md").write_text(markdown(report))
    return report


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
    parser.add_argument(
        "--set",
        dest="photo_set",
        choices=SETS,
        default="validation",
        help="the photo set (default: validation, where choices are made; test is for reporting only)",
    )
    parser.add_argument("--photos", type=int, default=0, help="only the first N photos of the set (default: all)")
    parser.add_argument("--crop", type=int, default=DEFAULT_CROP, help="centre crop side in px (0: whole photos)")
    parser.add_argument("--sigmas", type=_int_list, default=list(SIGMAS), help="denoise noise levels (15,25,50)")
    parser.add_argument("--qualities", type=_int_list, default=list(QUALITIES), help="dejpeg JPEG qualities (10,20,30)")
    parser.add_argument(
        "--only", type=lambda text: [t for t in text.split(",") if t], help="only these of our pipelines (labels)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = arguments().parse_args(argv)
    tasks = [task for task in args.tasks.split(",") if task]
    unknown = [task for task in tasks if task not in TASKS]
    if unknown or not tasks:
        print(f"lumaflow eval: error: unknown task(s) {unknown}; known: {', '.join(TASKS)}", file=sys.stderr)
        return 2
    available = len(photos_in(args.photo_set))
    if not 0 <= args.photos <= available:
        print(f"lumaflow eval: error: --photos must be 1 to {available} (0: all)", file=sys.stderr)
        return 2
    try:
        photos = prepare_photos(args.photo_set, args.crop, args.photos or None)
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
    settings = {
        "url": args.url,
        "photo_set": args.photo_set,
        "crop": args.crop,
        "tasks": tasks,
        "sigmas": args.sigmas,
        "qualities": args.qualities,
    }
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
            only=args.only,
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

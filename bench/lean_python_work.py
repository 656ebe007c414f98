"""``python -m lumaflow.bench.lean_python_work``: what decode and encode do beyond Pillow, timed in one process.

Issue 26's lean path asks where a small photo's time goes beyond the in-process pipeline of
``lumaflow.bench.lean``. Part of decode's and encode's time inside the server is their own Python work
(OPTIONS validation, EXIF and ICC handling, META, INFO). This times that work with no server: decode's
``decode_request`` against a plain Pillow decode of the same JPEG, and encode's ``encode_result`` against
``encode_image`` alone on the same network output (the stage's engine run in process). Calls alternate in
rounds, so both sides of a pair see the same machine. What a step costs inside the server beyond these is the
python backend's own per-step cost.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from lumaflow.bench.lean import REPOSITORY, pillow_decode, png_of, work
from lumaflow.build.offline import OfflineServer
from lumaflow.ensemble.pipelines import PIPELINES
from lumaflow.loadtest.report import machine
from lumaflow.runtime.decoding import decode_request
from lumaflow.runtime.encoding import encode_result


def _ms(call: Callable[[], object], repeats: int) -> float:
    started = time.perf_counter()
    for _ in range(repeats):
        call()
    return (time.perf_counter() - started) / repeats * 1e3


def measure(pipeline: str, side: int, rounds: int, repeats: int, repository: Path = REPOSITORY) -> dict[str, Any]:
    """Median ms per call over ``rounds`` alternating rounds of ``repeats`` calls each, for the four calls."""
    task = work(pipeline, side)
    offline = OfflineServer(repository)
    decoder, card = offline.prepared(PIPELINES[pipeline])
    jpeg, options = task.jpegs[0], json.dumps(task.options).encode()
    decoded = decode_request(decoder, jpeg, options, None, offline.analyse)
    engine = offline.stage(task.stage).engine
    side_inputs = {name: decoded.side[name] for name in engine.input_names[1:]}
    pixels = engine.run({engine.input_names[0]: decoded.pixels, **side_inputs})[0]
    calls: dict[str, Callable[[], object]] = {
        "pillow_decode": lambda: pillow_decode(jpeg),
        "decode_request": lambda: decode_request(decoder, jpeg, options, None, offline.analyse),
        "encode_image": lambda: png_of(pixels[0]),
        "encode_result": lambda: encode_result(pixels, decoded.alpha, decoded.meta, card, time.monotonic_ns()),
    }
    for call in calls.values():
        call()  # warm
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            times[name].append(_ms(call, repeats))
    medians = {name: round(statistics.median(values), 3) for name, values in times.items()}
    return {
        "pipeline": pipeline,
        "output": list(pixels.shape[1:3]),
        "ms": medians,
        "decode_extra_ms": round(medians["decode_request"] - medians["pillow_decode"], 3),
        "encode_extra_ms": round(medians["encode_result"] - medians["encode_image"], 3),
    }


def table(results: Sequence[dict[str, Any]]) -> str:
    lines = [
        "| pipeline | Pillow decode ms | decode_request ms | extra | encode_image ms | encode_result ms | extra |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in results:
        ms = row["ms"]
        lines.append(
            f"| {row['pipeline']} | {ms['pillow_decode']:.2f} | {ms['decode_request']:.2f} | "
            f"{row['decode_extra_ms']:+.2f} | {ms['encode_image']:.2f} | {ms['encode_result']:.2f} | "
            f"{row['encode_extra_ms']:+.2f} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lumaflow.bench.lean_python_work", description=__doc__)
    parser.add_argument("--pipelines", default="upscale_x2_fast,denoise")
    parser.add_argument("--side", type=int, default=256, help="the photos' side, px")
    parser.add_argument("--rounds", type=int, default=7, help="alternating rounds of the four calls")
    parser.add_argument("--repeats", type=int, default=20, help="calls of each per round")
    parser.add_argument("--out", type=Path, help="write the JSON report here")
    args = parser.parse_args(argv)
    results = [measure(name, args.side, args.rounds, args.repeats) for name in args.pipelines.split(",")]
    print(table(results))
    if args.out:
        report = {"machine": machine(), "side": args.side, "rounds": args.rounds, "repeats": args.repeats}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({**report, "results": results}, indent=1) + "\n")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

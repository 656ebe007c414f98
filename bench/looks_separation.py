"""``python -m lumaflow.bench.looks_separation``: what the looks network's push apart costs, served engine, per photo.

The served looks graph (its push apart on, as ``lumaflow build`` exports it) against the same weights exported
without the push's darkening, with its first pass alone and with the push off (``LookNet.separation``; issue 30),
all compiled by OpenVINO (the
engine ``ensemble/tuning.json`` gives the stage) with two threads, timed in interleaved one-second windows on a real
photo at a camera frame's size and at about a megapixel. A benchmark, not a test: prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from lumaflow.bench.camera import time_interleaved
from lumaflow.build.deploy import DEFAULT_REPOSITORY
from lumaflow.loadtest.report import machine, write_json

SIZES = ((240, 320), (768, 1024))
PHOTO = "pz_citrus-fruits"  # a validation photo (lumaflow.build.photo_sets)


def _graphs(repository: Path, scratch: Path) -> dict[str, Path]:
    from lumaflow import contract
    from lumaflow.build import WEIGHTS_DIR
    from lumaflow.build.arch.lut import LooksGraph, export_looks_onnx
    from lumaflow.build.arch.lut_push import PUSH_OFF
    from lumaflow.build.looks import load_looknet, separate

    served = repository / "looks" / "1" / "model.onnx"
    if not served.is_file():
        raise SystemExit(f"{served} is missing: run `lumaflow build --stages looks` first")
    names = (contract.PIXELS.name, contract.TEMPLATE.name, contract.STRENGTH.name)
    graphs = {"push apart (served)": served}
    model = load_looknet(WEIGHTS_DIR / "looks.pt")
    settings = model.push_apart
    for name, separation in (
        ("no darkening", replace(settings, darkest=1.0)),
        ("one pass", replace(settings, passes=1, darkest=1.0)),
        ("no push", PUSH_OFF),
    ):
        graphs[name] = scratch / f"looks-{name.replace(' ', '-')}.onnx"
        export_looks_onnx(LooksGraph(separate(model, separation)), graphs[name], names, contract.RESTORED.name)
    return graphs


def measure(repository: Path, windows: int, window_s: float, also: Sequence[Path] = ()) -> dict[str, Any]:
    """Each graph's ms per photo at each of ``SIZES``, interleaved: the served one, its variants, and ``also``
    (graphs exported elsewhere, say from an earlier commit, named by their file's stem)."""
    from lumaflow import contract
    from lumaflow.build.photo_sets import by_name, load
    from lumaflow.runtime.engines import EnginePolicy, open_engine

    photo = load(by_name(PHOTO))
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        graphs = {**_graphs(repository, Path(scratch)), **{path.stem: path for path in also}}
        compiled = {name: open_engine("openvino", path, EnginePolicy(threads=2)) for name, path in graphs.items()}
        for height, width in SIZES:
            pixels = np.ascontiguousarray(np.resize(photo, (height, width, 3))[None])
            inputs = {
                contract.PIXELS.name: pixels,
                contract.TEMPLATE.name: np.array([[7]], np.int32),
                contract.STRENGTH.name: np.ones((1, 1), np.float32),
            }
            runners = {name: partial(engine.run, inputs) for name, engine in compiled.items()}
            rates = time_interleaved(runners, windows * window_s * len(runners), windows)
            rows.append({"size": [width, height], "ms": {k: round(1000.0 / rate, 2) for k, rate in rates.items()}})
    return {"benchmark": "looks push apart", "engine": "openvino", "photo": PHOTO, "windows": windows, "rows": rows}


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m lumaflow.bench.looks_separation", description=__doc__)
    p.add_argument("--repository", type=Path, default=DEFAULT_REPOSITORY)
    p.add_argument("--windows", type=int, default=5)
    p.add_argument("--window-s", type=float, default=1.0)
    p.add_argument("--also", type=Path, nargs="*", default=[], help="more graphs to time beside (named by stem)")
    p.add_argument("--out", type=Path)
    args = p.parse_args(argv)
    report = {**measure(args.repository, args.windows, args.window_s, args.also), "machine": machine()}
    names = list(report["rows"][0]["ms"])
    print(f"| photo size | {' | '.join(f'{name}, ms' for name in names)} | served / no push |")
    print(f"| --- |{' ---: |' * (len(names) + 1)}")
    for row in report["rows"]:
        ms = row["ms"]
        size = f"{row['size'][0]}×{row['size'][1]}"
        ratio = ms["push apart (served)"] / ms["no push"]
        print(f"| {size} | {' | '.join(f'{ms[name]:.1f}' for name in names)} | {ratio:.2f} |")
    if args.out:
        write_json(args.out, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""``lumaflow loadtest perf|photos|camera|inflight|overload``: each writes report.json, report.md and plots into --out.

They load a server that is already running, through the client; ``lumaflow loadtest baselines`` and
``lumaflow tune`` start their own servers and live in ``lumaflow.bench.cli``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def numbers(text: str, kind: type = int) -> list[Any]:
    try:
        values = [kind(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None
    if not values or any(value <= 0 for value in values):
        raise argparse.ArgumentTypeError(f"expected positive numbers, got {text!r}")
    return values


def frame_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(side) for side in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, got {text!r}") from None
    return width, height


def given(args: argparse.Namespace, *names: str) -> dict[str, Any]:
    """The parsed values of ``names``, as keyword arguments of the command's ``run`` (same names)."""
    return {name: getattr(args, name) for name in names}


def _require_server(command: str, url: str, pipeline: str) -> None:
    """Stop with one clear line, not a traceback, when nothing serves ``pipeline`` at ``url``."""
    import tritonclient.grpc as grpcclient
    from tritonclient.utils import InferenceServerException

    try:
        with grpcclient.InferenceServerClient(url) as client:
            ready = client.is_model_ready(pipeline)
    except InferenceServerException as error:
        raise SystemExit(f"lumaflow loadtest {command}: no server at {url} ({error.message()})") from None
    if not ready:
        raise SystemExit(f"lumaflow loadtest {command}: {url} does not serve a ready pipeline {pipeline!r}")


def cmd_perf(args: argparse.Namespace) -> int:
    from lumaflow.loadtest.perf import PerfAnalyzerUnavailable, run

    _require_server("perf", args.url, args.pipeline)
    try:
        keywords = given(args, "side", "frame", "options", "measurement_ms", "stability_percentage", "max_trials")
        report = run(args.url, args.pipeline, args.concurrency, args.out, photos=args.photo, **keywords)
    except PerfAnalyzerUnavailable as error:
        print(f"lumaflow loadtest perf: {error}")
        return 1
    for note in report.notes:
        print(note)
    print(f"wrote {args.out}/report.json, report.md, throughput.png, latency.png")
    return 0 if report.points else 1


def cmd_photos(args: argparse.Namespace) -> int:
    from lumaflow.loadtest.photos import run

    _require_server("photos", args.url, args.pipeline)
    levels = {"rates": args.rate or (), "clients": args.clients or ()}
    run(
        args.url,
        args.pipeline,
        args.out,
        timeout_s=args.timeout,
        **levels,
        **given(args, "seconds", "sides", "options"),
    )
    print(f"wrote {args.out}/report.json, report.md, throughput.png, latency.png")
    return 0


def cmd_overload(args: argparse.Namespace) -> int:
    from lumaflow.loadtest.overload import run

    _require_server("overload", args.url, args.pipeline)
    keywords = given(args, "server_pid", "seconds", "factor", "clients", "sizing_seconds", "sides")
    report = run(args.url, args.pipeline, args.out, timeout_s=args.timeout, **keywords)
    print(report.table())
    print(f"wrote {args.out}/report.json, report.md")
    return 0 if report.accounted else 1


def _frames_load(command: str, args: argparse.Namespace, run: Any, load: Any) -> int:
    """Run a frame load (``camera``, ``inflight``) against the server; a bad setting is one line, not a traceback."""
    _require_server(command, args.url, args.pipeline)
    try:
        report = run(args.url, args.pipeline, args.out, load)
    except ValueError as error:
        raise SystemExit(f"lumaflow loadtest {command}: {error}") from None
    print(report.notes[-1])
    print(f"wrote {args.out}/report.json, report.md, throughput.png, latency.png")
    return 0


def cmd_camera(args: argparse.Namespace) -> int:
    from lumaflow.loadtest.cameras import CameraLoad, run

    keywords = given(args, "fps", "seconds", "max_streams", "size", "budget_ms", "transport", "min_streams")
    return _frames_load("camera", args, run, CameraLoad(**keywords))


def cmd_inflight(args: argparse.Namespace) -> int:
    from lumaflow.loadtest.inflight import InFlightLoad, run

    keywords = given(args, "in_flight", "seconds", "windows", "size", "stall_ms")
    return _frames_load("inflight", args, run, InFlightLoad(**keywords))


def cmd_region(args: argparse.Namespace) -> int:
    import json

    from lumaflow.loadtest.region import run

    _require_server("region", args.url, args.pipeline)
    keywords = given(args, "photo", "megapixels", "coverage", "repeats")
    report = run(args.url, args.pipeline, args.out, options=json.loads(args.options), **keywords)
    print(report.table())
    print(f"wrote {args.out}/report.json, report.md")
    return 0


def cmd_web(args: argparse.Namespace) -> int:
    import json

    from lumaflow.loadtest.web import run

    _require_server("web", args.url, args.pipeline)
    report = run(
        args.url, args.page, args.pipeline, args.photo, args.out, repeats=args.repeats, options=json.loads(args.options)
    )
    print(report.table())
    print(f"wrote {args.out}/report.json, report.md")
    return 0


def add_loadtest(commands: Any) -> Any:
    """``lumaflow loadtest`` and its kinds; returns the kinds' sub-parsers (``lumaflow.bench`` adds ``baselines``)."""
    loadtest = commands.add_parser("loadtest", help="load a running server: perf_analyzer, photo load, camera load")
    kinds = loadtest.add_subparsers(dest="kind", required=True)

    def common(parser: argparse.ArgumentParser, pipeline: str) -> None:
        parser.add_argument("--url", default="127.0.0.1:8001", help="HOST:PORT of the server's gRPC endpoint")
        parser.add_argument("--pipeline", default=pipeline)
        parser.add_argument("--out", type=Path, required=True, help="folder for report.json, report.md and plots")

    perf = kinds.add_parser("perf", help="Triton's perf_analyzer at each concurrency, with real photos or frames")
    common(perf, "upscale_x2")
    perf.add_argument("--concurrency", type=numbers, default=[1, 2, 4, 8, 16], help="e.g. 1,2,4,8,16")
    perf.add_argument("--photo", type=Path, action="append", default=[], help="a photo to send (repeat; default: 3)")
    perf.add_argument("--side", type=int, default=256, help="long side of the default photos, px")
    perf.add_argument("--frame", type=frame_size, default=(320, 240), help="raw frame size for camera pipelines")
    perf.add_argument("--options", default='{"format": "jpeg"}', help="OPTIONS JSON sent with each photo")
    perf.add_argument("--measurement-ms", type=int, default=5000, help="perf_analyzer's measurement window")
    perf.add_argument(
        "--stability-percentage", type=int, default=50, help="how close 3 windows must be (perf_analyzer default 10)"
    )
    perf.add_argument("--max-trials", type=int, default=6)
    perf.set_defaults(handler=cmd_perf)

    photos = kinds.add_parser("photos", help="mixed real photos: open loop (--rate) or closed loop (--clients)")
    common(photos, "upscale_x2")
    mode = photos.add_mutually_exclusive_group(required=True)
    mode.add_argument("--rate", type=lambda text: numbers(text, float), help="Poisson arrivals per second, e.g. 1,2,4")
    mode.add_argument("--clients", type=numbers, help="closed-loop callers, e.g. 1,4,16")
    photos.add_argument("--seconds", type=float, default=20.0, help="per level")
    photos.add_argument("--sides", type=numbers, default=[256, 384, 512], help="long sides the photos are sent at")
    photos.add_argument("--options", default='{"format": "jpeg"}')
    photos.add_argument("--timeout", type=float, default=30.0, help="per-request deadline, seconds")
    photos.set_defaults(handler=cmd_photos)

    overload = kinds.add_parser(
        "overload", help="offer --factor times the sustainable rate: refused fast, nothing lost, memory bounded"
    )
    common(overload, "upscale_x2_fast")
    overload.add_argument("--server-pid", type=int, help="tritonserver's PID, to sample its and its stubs' memory")
    overload.add_argument("--factor", type=float, default=3.0, help="offered rate / sustainable rate")
    overload.add_argument("--seconds", type=float, default=60.0, help="length of the open-loop overload")
    overload.add_argument("--clients", type=int, default=8, help="closed-loop callers of the sizing run")
    overload.add_argument("--sizing-seconds", type=float, default=15.0)
    overload.add_argument("--sides", type=numbers, default=[256, 384, 512], help="long sides the photos are sent at")
    overload.add_argument("--timeout", type=float, default=30.0, help="per-request deadline, seconds")
    overload.set_defaults(handler=cmd_overload)

    camera = kinds.add_parser("camera", help="N simulated cameras: the most that hold the frame rate")
    common(camera, "camera_x2")
    camera.add_argument("--fps", type=float, default=30.0)
    camera.add_argument("--seconds", type=float, default=10.0, help="per level")
    camera.add_argument("--max-streams", type=int, default=8)
    camera.add_argument("--min-streams", type=int, default=1, help="the first number of cameras tried")
    camera.add_argument("--size", type=frame_size, default=(320, 240), help="frame WIDTHxHEIGHT")
    camera.add_argument("--budget-ms", type=float, default=100.0, help="p99 latency budget")
    camera.add_argument("--transport", choices=("auto", "shm", "grpc"), default="auto")
    camera.set_defaults(handler=cmd_camera)

    inflight = kinds.add_parser("inflight", help="N frames always in flight, plain tritonclient: fps, p99, stalls")
    common(inflight, "camera_x2")
    inflight.add_argument("--in-flight", type=int, default=4, help="frames kept on the wire (4: two cameras of 2)")
    inflight.add_argument("--seconds", type=float, default=10.0, help="per window")
    inflight.add_argument("--windows", type=int, default=3, help="windows of the same setting, one point each")
    inflight.add_argument("--size", type=frame_size, default=(320, 240), help="frame WIDTHxHEIGHT")
    inflight.add_argument("--stall-ms", type=float, default=250.0, help="an answer slower than this is a stall")
    inflight.set_defaults(handler=cmd_inflight)

    from lumaflow.loadtest.region import DEFAULT_PHOTO

    region = kinds.add_parser("region", help="a big photo whole and with a brushed REGION, interleaved: the saving")
    common(region, "upscale_x2")
    region.add_argument("--photo", type=Path, default=DEFAULT_PHOTO, help=f"the photo (default {DEFAULT_PHOTO})")
    region.add_argument("--megapixels", type=float, default=12.0, help="its centre crop's size")
    region.add_argument("--coverage", type=float, default=0.05, help="the region's share of the photo (a disc)")
    region.add_argument("--repeats", type=int, default=3, help="requests of each kind")
    region.add_argument("--options", default="{}", help="OPTIONS JSON sent with each request")
    region.set_defaults(handler=cmd_region)

    web = kinds.add_parser("web", help="the web page's load time and what it adds to a photo, against the client")
    common(web, "upscale_x2")
    web.add_argument("--page", default="http://127.0.0.1:8080/", help="the page's address (lumaflow web)")
    web.add_argument("--photo", type=Path, required=True, help="the photo sent each way")
    web.add_argument("--repeats", type=int, default=5, help="photos each way, interleaved")
    web.add_argument("--options", default="{}", help="OPTIONS JSON sent with each photo")
    web.set_defaults(handler=cmd_web)
    return kinds

"""``lumaflow loadtest perf|photos|camera|overload``: each writes report.json, report.md and PNG plots into --out."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def _numbers(text: str, kind: type = int) -> list[Any]:
    try:
        values = [kind(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None
    if not values or any(value <= 0 for value in values):
        raise argparse.ArgumentTypeError(f"expected positive numbers, got {text!r}")
    return values


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(side) for side in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, got {text!r}") from None
    return width, height


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
        report = run(
            args.url,
            args.pipeline,
            args.concurrency,
            args.out,
            photos=args.photo,
            side=args.side,
            frame=args.frame,
            options=args.options,
            measurement_ms=args.measurement_ms,
            stability_percentage=args.stability_percentage,
            max_trials=args.max_trials,
        )
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
    run(
        args.url,
        args.pipeline,
        args.out,
        rates=args.rate or (),
        clients=args.clients or (),
        seconds=args.seconds,
        sides=args.sides,
        options=args.options,
        timeout_s=args.timeout,
    )
    print(f"wrote {args.out}/report.json, report.md, throughput.png, latency.png")
    return 0


def cmd_overload(args: argparse.Namespace) -> int:
    from lumaflow.loadtest.overload import run

    _require_server("overload", args.url, args.pipeline)
    report = run(
        args.url,
        args.pipeline,
        args.out,
        server_pid=args.server_pid,
        seconds=args.seconds,
        factor=args.factor,
        clients=args.clients,
        sizing_seconds=args.sizing_seconds,
        sides=args.sides,
        timeout_s=args.timeout,
    )
    print(report.table())
    print(f"wrote {args.out}/report.json, report.md")
    return 0 if report.accounted else 1


def cmd_camera(args: argparse.Namespace) -> int:
    from lumaflow.loadtest.cameras import run

    _require_server("camera", args.url, args.pipeline)
    report = run(
        args.url,
        args.pipeline,
        args.out,
        fps=args.fps,
        seconds=args.seconds,
        max_streams=args.max_streams,
        size=args.size,
        budget_ms=args.budget_ms,
        transport=args.transport,
    )
    print(report.notes[-1])
    print(f"wrote {args.out}/report.json, report.md, throughput.png, latency.png")
    return 0


def cmd_baselines(args: argparse.Namespace) -> int:
    from lumaflow.cli import DEFAULT_REPOSITORY, ensure_artifacts
    from lumaflow.loadtest.baselines import run

    repository = args.model_repository.resolve() if args.model_repository else DEFAULT_REPOSITORY
    ensure_artifacts(repository)
    try:
        report = run(
            repository,
            args.pipeline,
            args.out,
            clients=args.clients,
            seconds=args.seconds,
            side=args.side,
            frame=args.frame,
        )
    except ValueError as error:  # a routed pipeline has no one network stage to compare
        print(f"lumaflow loadtest baselines: error: {error}")
        return 1
    print(report.markdown())
    return 0


def cmd_tune(args: argparse.Namespace) -> int:
    from lumaflow.cli import DEFAULT_REPOSITORY, ensure_artifacts
    from lumaflow.ensemble.tuning import TUNING_FILE
    from lumaflow.loadtest.tune import tune

    repository = args.model_repository.resolve() if args.model_repository else DEFAULT_REPOSITORY
    ensure_artifacts(repository)
    tuning_file = args.tuning_file or TUNING_FILE
    try:
        entry = tune(
            repository,
            args.pipeline,
            batch_sizes=args.batch_sizes or (),
            delays_us=args.delays_us,
            instances=args.instances,
            clients=args.clients,
            seconds=args.seconds,
            budget_ms=args.budget_ms,
            side=args.side,
            frame=args.frame,
            tuning_file=tuning_file,
        )
    except ValueError as error:  # a routed pipeline, or candidates the ensemble could not load
        print(f"lumaflow tune: error: {error}")
        return 1
    print(
        f"chose max_batch_size {entry['max_batch_size']}, queue delay {entry['max_queue_delay_us']} us, "
        f"{entry['instances']} instance(s) ({entry['chosen_by']}); wrote {tuning_file}"
    )
    if tuning_file == TUNING_FILE:
        print("now run `lumaflow generate` to render the configs from it")
    return 0


def add_tune(commands: Any) -> None:
    tune = commands.add_parser(
        "tune", help="measure batching settings of a pipeline's network stage, write the best into tuning.json"
    )
    tune.add_argument("--pipeline", default="upscale_x2_fast")
    tune.add_argument("--model-repository", type=Path, help="default: the package's model_repository")
    tune.add_argument("--batch-sizes", type=_numbers, help="max_batch_size candidates (default: the declared one)")
    tune.add_argument(
        "--delays-us",
        type=lambda text: [int(v) for v in text.split(",")],
        default=[0, 2000, 5000, 10000],
        help="max_queue_delay_microseconds candidates",
    )
    tune.add_argument("--instances", type=_numbers, default=[1], help="instance count candidates, e.g. 1,2")
    tune.add_argument("--clients", type=int, default=16)
    tune.add_argument("--seconds", type=float, default=10.0, help="per candidate")
    tune.add_argument("--budget-ms", type=float, default=1000.0, help="p99 a candidate must stay within")
    tune.add_argument("--side", type=int, default=128)
    tune.add_argument("--frame", type=_size, default=(320, 240))
    tune.add_argument("--tuning-file", type=Path, help="default: the package's ensemble/tuning.json")
    tune.set_defaults(handler=cmd_tune)


def add_loadtest(commands: Any) -> None:
    loadtest = commands.add_parser("loadtest", help="load a running server: perf_analyzer, photo load, camera load")
    kinds = loadtest.add_subparsers(dest="kind", required=True)

    def common(parser: argparse.ArgumentParser, pipeline: str) -> None:
        parser.add_argument("--url", default="127.0.0.1:8001", help="HOST:PORT of the server's gRPC endpoint")
        parser.add_argument("--pipeline", default=pipeline)
        parser.add_argument("--out", type=Path, required=True, help="folder for report.json, report.md and plots")

    perf = kinds.add_parser("perf", help="Triton's perf_analyzer at each concurrency, with real photos or frames")
    common(perf, "upscale_x2")
    perf.add_argument("--concurrency", type=_numbers, default=[1, 2, 4, 8, 16], help="e.g. 1,2,4,8,16")
    perf.add_argument("--photo", type=Path, action="append", default=[], help="a photo to send (repeat; default: 3)")
    perf.add_argument("--side", type=int, default=256, help="long side of the default photos, px")
    perf.add_argument("--frame", type=_size, default=(320, 240), help="raw frame size for camera pipelines")
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
    mode.add_argument("--rate", type=lambda text: _numbers(text, float), help="Poisson arrivals per second, e.g. 1,2,4")
    mode.add_argument("--clients", type=_numbers, help="closed-loop callers, e.g. 1,4,16")
    photos.add_argument("--seconds", type=float, default=20.0, help="per level")
    photos.add_argument("--sides", type=_numbers, default=[256, 384, 512], help="long sides the photos are sent at")
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
    overload.add_argument("--sides", type=_numbers, default=[256, 384, 512], help="long sides the photos are sent at")
    overload.add_argument("--timeout", type=float, default=30.0, help="per-request deadline, seconds")
    overload.set_defaults(handler=cmd_overload)

    baselines = kinds.add_parser(
        "baselines", help="direct ONNX Runtime, Triton without batching and Lumaflow as shipped, in one run"
    )
    baselines.add_argument("--pipeline", default="upscale_x2_fast")
    baselines.add_argument("--out", type=Path, required=True)
    baselines.add_argument("--model-repository", type=Path, help="default: the package's model_repository")
    baselines.add_argument("--clients", type=int, default=16)
    baselines.add_argument("--seconds", type=float, default=20.0, help="per configuration")
    baselines.add_argument("--side", type=int, default=128, help="square photo crops sent (photo pipelines)")
    baselines.add_argument("--frame", type=_size, default=(320, 240), help="frame size (camera pipelines)")
    baselines.set_defaults(handler=cmd_baselines)

    camera = kinds.add_parser("camera", help="N simulated cameras: the most that hold the frame rate")
    common(camera, "camera_x2")
    camera.add_argument("--fps", type=float, default=30.0)
    camera.add_argument("--seconds", type=float, default=10.0, help="per level")
    camera.add_argument("--max-streams", type=int, default=8)
    camera.add_argument("--size", type=_size, default=(320, 240), help="frame WIDTHxHEIGHT")
    camera.add_argument("--budget-ms", type=float, default=100.0, help="p99 latency budget")
    camera.add_argument("--transport", choices=("auto", "shm", "grpc"), default="auto")
    camera.set_defaults(handler=cmd_camera)

"""The client's commands: ``lumaflow enhance``, ``pipelines``, ``health`` and ``camera`` (no server code imported).

lumaflow enhance photo.jpg -o photo_x2.png --pipeline upscale_x2 --compare
lumaflow enhance a.jpg b.jpg -o out/ --pipeline denoise --option noise_level=15
lumaflow enhance face.jpg -o out.png --pipeline denoise --region face_region.png --strength 0.7
lumaflow pipelines
lumaflow camera --source synthetic --frames 300 --fps 30
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from .camera import CameraSession, stream
from .compare import applied, compare_stem, side_by_side, slider_page
from .errors import LumaflowError
from .policy import RetryPolicy, TLSConfig
from .result import EnhanceResult
from .sync import LumaflowClient

DEFAULT_URL = os.environ.get("LUMAFLOW_URL", "localhost:8001")
EXTENSIONS = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp"}


def _option(text: str) -> tuple[str, Any]:
    """``key=value``; the value is read as JSON when it parses (numbers, booleans), else as a string."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"options are key=value, got {text!r}")
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return float("nan")  # refused below like any out-of-range value


def _strength(text: str) -> float:
    """``--strength``: a number from 0 (the input) to 1 (the full result)."""
    value = _number(text)
    if not 0.0 <= value <= 1.0:  # NaN fails too
        raise argparse.ArgumentTypeError(f"must be a number from 0 to 1, got {text!r}")
    return value


def _pixels(text: str) -> float:
    """``--region-feather``: a width in input pixels, 0 or more."""
    value = _number(text)
    if not 0.0 <= value < float("inf"):  # NaN fails too
        raise argparse.ArgumentTypeError(f"must be a number of pixels, 0 or more, got {text!r}")
    return value


GUIDANCE_FLAGS = {"strength": "--strength", "region_mode": "--region-mode", "region_feather": "--region-feather"}


def _enhance_options(args: argparse.Namespace) -> dict[str, Any] | str:
    """The OPTIONS of ``lumaflow enhance`` (``--option``, ``--template``, the guidance flags), or what is wrong."""
    options = dict(args.option or [])
    if args.template is not None:
        options["template"] = args.template
    for key, flag in GUIDANCE_FLAGS.items():
        value = getattr(args, key)
        if value is None:
            continue
        if key in options:
            return f"{flag} and --option {key}=... both given: give one"
        options[key] = value
    return options


def _client(args: argparse.Namespace) -> LumaflowClient:
    token = args.token or os.environ.get("LUMAFLOW_TOKEN")
    return LumaflowClient(args.url, token=token, timeout=args.timeout, tls=_tls(args))


def _destination(source: Path, out: Path, many: bool, result: EnhanceResult) -> Path:
    if not many and out.suffix:
        return out
    out.mkdir(parents=True, exist_ok=True)
    return out / f"{source.stem}{EXTENSIONS.get(result.format, '.png')}"


def cmd_enhance(args: argparse.Namespace) -> int:
    sources = [Path(path) for path in args.inputs]
    missing = [str(path) for path in sources if not path.is_file()]
    if missing:
        print(f"lumaflow enhance: no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    many = len(sources) > 1
    if many and args.output.suffix:
        print("lumaflow enhance: with several inputs, -o must be a folder", file=sys.stderr)
        return 2
    for flag, path in (("--mask", args.mask), ("--region", args.region)):
        if path is not None and (many or not path.is_file()):
            problem = "takes one input (it is per photo)" if many else f"no such file: {path}"
            print(f"lumaflow enhance: {flag} {problem}", file=sys.stderr)
            return 2
    options = _enhance_options(args)
    if isinstance(options, str):
        print(f"lumaflow enhance: {options}", file=sys.stderr)
        return 2
    with _client(args) as client:
        if args.mask is not None or args.region is not None:
            results: list[Any] = []
            try:
                one = client.enhance(
                    sources[0], args.pipeline, preset=args.preset, mask=args.mask, region=args.region, **options
                )
                results.append(one)
            except LumaflowError as error:
                results.append(error)
        else:
            results = client.enhance_many(
                sources, args.pipeline, concurrency=args.concurrency, progress=many, preset=args.preset, **options
            )
    failed = 0
    for source, result in zip(sources, results, strict=True):
        if isinstance(result, LumaflowError):
            failed += 1
            print(f"{source}: {type(result).__name__}: {result}", file=sys.stderr)
            continue
        written = result.save(_destination(source, args.output, many, result))
        line = f"{source} -> {written} ({result.image.width}x{result.image.height}, {result.seconds:.2f} s)"
        quality = result.info.get("quality")
        if quality:
            verdict = "WORSE than " if quality["worse"] else "vs "
            line += f"; quality {quality['output']:.0f} {verdict}{quality['input']:.0f} ({quality['compared_with']})"
        if args.compare:
            before = Image.open(io.BytesIO(source.read_bytes()))
            label, stem = applied(result.info), compare_stem(written.stem, result.info)
            pair = side_by_side(before, result.image, written.with_name(stem + ".png"), label)
            page = slider_page(before, result.image, written.with_name(stem + ".html"), f"{source.name}, {label}")
            line += f"; {label}; compare: {pair.name}, {page.name}"
        print(line)
    return 1 if failed else 0


def cmd_pipelines(args: argparse.Namespace) -> int:
    with _client(args) as client:
        try:
            pipelines = client.pipelines()
        except LumaflowError as error:
            print(f"lumaflow pipelines: {type(error).__name__}: {error}", file=sys.stderr)
            return 1
    for info in pipelines:
        keys = ", ".join(info.options_schema.get("properties", {})) or "-"
        presets = ", ".join(info.presets) or "-"
        print(f"{info.name:<22} {info.kind:<7} {info.description}\n{'':<30} options: {keys}; presets: {presets}")
        for title, looks in info.templates_by_category().items():
            print(f"{'':<30} {title} ({len(looks)} looks):")
            for template in looks:
                thumbnail = template.save_thumbnail(args.thumbnails) if args.thumbnails else None
                where = f" [{thumbnail}]" if thumbnail else ""
                print(f"{'':<32} template {template.name:<18} {template.description}{where}")
    return 0


def _tls(args: argparse.Namespace) -> TLSConfig | None:
    ca = getattr(args, "tls_ca", None)
    return TLSConfig(root_certificates=ca.read_bytes()) if ca else None


def cmd_health(args: argparse.Namespace) -> int:
    token = args.token or os.environ.get("LUMAFLOW_TOKEN")
    with LumaflowClient(args.url, timeout=args.timeout, token=token, tls=_tls(args)) as client:
        report = client.health()
    for url, state in report.items():
        print(f"{url}: {'live' if state['live'] else 'NOT live'}, {'ready' if state['ready'] else 'NOT ready'}")
    healthy = all(state["ready"] for state in report.values())
    if not args.deep:
        return 0 if healthy else 1
    from .health import deep_check

    for url in args.url:
        # One try each: a probe that needs a retry to pass is a finding, not a success.
        once = RetryPolicy(attempts=1)
        with LumaflowClient(url, timeout=args.timeout, token=token, tls=_tls(args), retry=once) as client:
            try:
                probes = deep_check(client, args.pipeline or (), timeout=args.timeout)
            except LumaflowError as error:
                print(f"{url}: cannot list the pipelines: {type(error).__name__}: {error}")
                healthy = False
                continue
        failed = [probe for probe in probes if not probe.ok]
        print(f"{url}: {len(probes) - len(failed)}/{len(probes)} pipelines answered a probe request")
        for probe in probes:
            print(f"  {probe.line()}")
        healthy = healthy and not failed and bool(probes)
    return 0 if healthy else 1


VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v")


def _video_frames(path: Path, size: tuple[int, int]) -> Iterator[np.ndarray]:
    """A video file's frames through OpenCV (optional: the client does not need it otherwise), looped."""
    try:
        import cv2
    except ImportError:
        raise SystemExit(
            f"lumaflow camera: reading {path.name} needs OpenCV (pip install opencv-python-headless),"
            " or extract its frames first: ffmpeg -i in.mp4 frames/%05d.png"
        ) from None
    height, width = size
    while True:
        capture = cv2.VideoCapture(str(path))
        delivered = 0
        while True:
            ok, bgr = capture.read()
            if not ok:
                break
            delivered += 1
            yield np.ascontiguousarray(cv2.resize(bgr, (width, height))[..., ::-1])
        capture.release()
        if not delivered:
            raise SystemExit(f"lumaflow camera: OpenCV read no frame from {path}")


def frame_source(source: str, size: tuple[int, int]) -> Iterator[np.ndarray]:
    """Frames from a synthetic moving pattern, a video file, an animated image or a folder of images
    (in name order), looped."""
    height, width = size
    if source == "synthetic":
        y, x = np.mgrid[0:height, 0:width].astype(np.float32)
        step = 0
        while True:
            phase = step * 0.15
            r = 128 + 100 * np.sin(x / 17 + phase)
            g = 128 + 100 * np.sin(y / 23 - phase)
            b = 128 + 100 * np.sin((x + y) / 31 + 2 * phase)
            yield np.clip(np.stack([r, g, b], axis=2), 0, 255).astype(np.uint8)
            step += 1
    path = Path(source)
    if path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES:
        yield from _video_frames(path, size)
    if path.is_file():  # an animated image (GIF, WebP, APNG) is a video Pillow can read
        with Image.open(path) as video:
            clips = []
            for number in range(getattr(video, "n_frames", 1)):
                video.seek(number)
                clips.append(np.asarray(video.convert("RGB").resize((width, height))))
        while True:
            yield from clips
    if not path.is_dir():
        raise SystemExit(
            f"lumaflow camera: {source} is not 'synthetic', a video file, a folder of images or an animated image"
        )
    paths = sorted(p for p in path.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp", ".bmp"))
    if not paths:
        raise SystemExit(f"lumaflow camera: {source} holds no images")
    images = [np.asarray(Image.open(p).convert("RGB").resize((width, height))) for p in paths]
    while True:
        yield from images


def cmd_camera(args: argparse.Namespace) -> int:
    width, height = (int(side) for side in args.size.lower().split("x"))
    token = args.token or os.environ.get("LUMAFLOW_TOKEN")
    frames = frame_source(args.source, (height, width))
    shared = {"auto": None, "shm": True, "grpc": False}[args.transport]
    with CameraSession(
        args.url,
        args.pipeline,
        token=token,
        max_in_flight=args.in_flight,
        latency_budget_s=args.budget_ms / 1e3,
        shared_memory=shared,
    ) as camera:
        stats = stream(camera, frames, args.frames, args.fps, progress=lambda now: print(now.line(), flush=True))
    print(stats.line())
    print(f"session: {stats.session_fps_out:.1f} fps delivered over {args.frames} frames offered at {args.fps:g} fps")
    if stats.last_error:
        print(f"last error: {stats.last_error}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({**stats.__dict__, "offered_fps": args.fps, "size": args.size}, indent=2))
    return 0


def add_commands(commands: Any) -> None:
    """Register the client's subcommands on ``lumaflow``'s parser."""

    def common(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--url", default=DEFAULT_URL, help=f"server gRPC address (default {DEFAULT_URL}, $LUMAFLOW_URL)"
        )
        parser.add_argument("--token", help="the server's token (default $LUMAFLOW_TOKEN)")
        parser.add_argument("--timeout", type=float, default=300.0, help="seconds per call")
        parser.add_argument("--tls-ca", type=Path, help="PEM CA certificate: connect with TLS")

    enhance = commands.add_parser("enhance", help="send photos through a pipeline of a running server")
    enhance.add_argument("inputs", nargs="+", help="image files")
    enhance.add_argument("-o", "--output", type=Path, required=True, help="output file (one input) or folder")
    enhance.add_argument("--pipeline", default="upscale_x2")
    enhance.add_argument("--preset", help="a named OPTIONS bundle of the pipeline (see `lumaflow pipelines`)")
    enhance.add_argument("--option", type=_option, action="append", help="an OPTIONS key=value (repeatable)")
    enhance.add_argument("--concurrency", type=int, default=4)
    enhance.add_argument("--mask", type=Path, help="inpaint: a PNG of the photo's size, white where to remove")
    enhance.add_argument("--template", help="stylize: the look to apply (see `lumaflow pipelines`)")
    enhance.add_argument(
        "--region",
        type=Path,
        help="a grey (or alpha) image of the photo's size: enhance only where it is white (above 127); one input",
    )
    enhance.add_argument(
        "--region-mode",
        choices=("only", "except"),
        help="with --region: enhance only inside it (only, the default) or everywhere but there (except)",
    )
    enhance.add_argument(
        "--region-feather",
        type=_pixels,
        metavar="PX",
        help="with --region: the blend's width across its edge, in input pixels (default 8)",
    )
    enhance.add_argument(
        "--strength",
        type=_strength,
        metavar="0..1",
        help="how much of the result, for every input: 0 = the input (or its plain upscale), 1 = all (default)",
    )
    enhance.add_argument(
        "--compare",
        action="store_true",
        help="also write a side-by-side PNG and an HTML slider, saying what was applied",
    )
    common(enhance)
    enhance.set_defaults(handler=cmd_enhance)

    pipelines = commands.add_parser(
        "pipelines", help="list the pipelines a server serves, with options, presets and templates"
    )
    pipelines.add_argument("--thumbnails", type=Path, help="write each template's thumbnail into this folder")
    common(pipelines)
    pipelines.set_defaults(handler=cmd_pipelines)

    health = commands.add_parser("health", help="is each server live and ready (exit 1 if any is not)")
    health.add_argument("--url", nargs="+", default=[DEFAULT_URL])
    health.add_argument("--timeout", type=float, default=30.0, help="seconds per call")
    health.add_argument(
        "--deep", action="store_true", help="also send one tiny real request through every pipeline (liveness)"
    )
    health.add_argument("--pipeline", action="append", help="--deep: only this pipeline (repeatable)")
    health.add_argument("--token", help="the server's token (default $LUMAFLOW_TOKEN)")
    health.add_argument("--tls-ca", type=Path, help="PEM CA certificate: connect with TLS")
    health.set_defaults(handler=cmd_health)

    camera = commands.add_parser("camera", help="stream frames through a camera pipeline and print live stats")
    camera.add_argument(
        "--source",
        default="synthetic",
        help="'synthetic', a video file (OpenCV), an animated GIF/WebP/PNG, or a folder",
    )
    camera.add_argument("--pipeline", default="camera_x2")
    camera.add_argument("--frames", type=int, default=300)
    camera.add_argument("--fps", type=float, default=30.0, help="the rate frames are offered at")
    camera.add_argument("--size", default="320x240", help="frame size WxH")
    camera.add_argument("--in-flight", type=int, default=2, help="frames on the wire at most")
    camera.add_argument("--budget-ms", type=float, default=100.0, help="older results are dropped")
    camera.add_argument("--json", type=Path, help="write the final stats here")
    camera.add_argument(
        "--transport",
        choices=("auto", "shm", "grpc"),
        default="auto",
        help="frames through system shared memory (auto: when the server's address is loopback) or gRPC",
    )
    common(camera)
    camera.set_defaults(handler=cmd_camera)

"""The ``lumaflow`` command: serve, generate, build, train, eval; the client's enhance, pipelines, health, camera."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import lumaflow
from lumaflow.build.deploy import DEFAULT_REPOSITORY, NGC_TARGETS


def _repository(path: str | None) -> Path:
    return Path(path).resolve() if path else DEFAULT_REPOSITORY


def _fail(command: str, message: str) -> int:
    print(f"lumaflow {command}: error: {message}", file=sys.stderr, flush=True)
    return 1


def cmd_serve(args: argparse.Namespace) -> int:
    from lumaflow.server.supervisor import serve_command

    return serve_command(args)


def cmd_generate(args: argparse.Namespace) -> int:
    from lumaflow.build.deploy import generate

    return generate(_repository(args.model_repository), check=args.check)


def cmd_build(args: argparse.Namespace) -> int:
    from lumaflow.build.deploy import build
    from lumaflow.build.errors import BuildError

    stages = args.stages.split(",") if args.stages else ()
    try:
        return build(
            _repository(args.model_repository),
            engine=args.engine,
            target=args.target,
            export=args.export,
            stages=stages,
            fp16=args.fp16,
            pipelines=args.pipelines.split(",") if args.pipelines else (),
        )
    except BuildError as error:
        return _fail("build", str(error))


def cmd_train(args: argparse.Namespace) -> int:
    from lumaflow.build.training import main as train_main

    return train_main(args.network, args.rest)


def cmd_eval(args: argparse.Namespace) -> int:
    from lumaflow.build.evaluate import main as eval_main

    return eval_main(args.rest)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="lumaflow", description=lumaflow.__doc__)
    top.add_argument("--version", action="version", version=lumaflow.__version__)
    commands = top.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run Triton with every pipeline of the model repository")
    serve.add_argument(
        "--model-repository", help=f"a directory or an s3:// gs:// as:// URL (default: {DEFAULT_REPOSITORY})"
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    serve.add_argument("--grpc-port", type=int, default=8001)
    serve.add_argument("--http-port", type=int, default=8000)
    serve.add_argument("--metrics-port", type=int, default=8002)
    serve.add_argument("--exit-timeout", type=int, default=30, help="seconds in-flight requests get on shutdown")
    serve.add_argument("--ready-timeout", type=float, default=600.0, help="seconds to wait for models to load")
    serve.add_argument("--log-verbose", type=int, default=0, help="tritonserver's --log-verbose level")
    serve.add_argument(
        "--response-cache-mb",
        type=int,
        default=0,
        help="answer repeated identical requests from Triton's response cache of this size (default 0: off)",
    )
    serve.add_argument(
        "--allow-partial",
        action="store_true",
        help="serve the models that loaded when some fail (default: a failed model stops serve)",
    )
    serve.add_argument(
        "--auth-token-file",
        help="require this file's token (header lumaflow-token) for every call but health; see docs/SECURITY.md",
    )
    serve.add_argument("--gpu-metrics", action="store_true", help="export Triton's GPU metrics (GPU machines)")
    serve.add_argument("--tls-cert", type=Path, help="PEM certificate: gRPC over TLS (needs --tls-key)")
    serve.add_argument("--tls-key", type=Path, help="PEM private key of --tls-cert")
    serve.add_argument("--http-host", help="address HTTP binds (default: --host; loopback when TLS is on)")
    serve.add_argument(
        "--metrics-host",
        default="127.0.0.1",
        help="address the unauthenticated metrics port binds (default: loopback only)",
    )
    serve.add_argument(
        "--deep-check-interval",
        type=float,
        default=30.0,
        help="seconds between probe requests through every pipeline (0: only watch the processes)",
    )
    serve.add_argument(
        "--max-restarts",
        type=int,
        default=3,
        help="tritonserver restarts allowed per hour before serve gives up (-1: no supervision)",
    )
    serve.add_argument(
        "--web-port", type=int, default=0, help="also serve the web page on this port of --host (0: no page)"
    )
    serve.add_argument("--web-token-file", type=Path, help="the web page's token (required off loopback)")
    serve.add_argument(
        "--probe-port",
        type=int,
        default=0,
        help="answer /livez (the serve loop is alive) and /readyz (Triton ready, last deep check passed) on this "
        "port of --host, for Kubernetes' httpGet probes (0: off)",
    )
    serve.set_defaults(handler=cmd_serve)

    generate = commands.add_parser("generate", help="write config.pbtxt files from the stage declarations")
    generate.add_argument("--model-repository")
    generate.add_argument("--check", action="store_true", help="only report files that differ; exit 1 if any")
    generate.set_defaults(handler=cmd_generate)

    build = commands.add_parser("build", help="export the ONNX graphs that are missing or stale (or TensorRT plans)")
    build.add_argument("--model-repository")
    build.add_argument(
        "--engine",
        choices=("onnx", "tensorrt"),
        default="onnx",
        help="tensorrt: write a deployment repository for Triton's TensorRT backend (GPU machine)",
    )
    build.add_argument("--fp16", action="store_true", help="TensorRT: allow fp16 kernels")
    build.add_argument("--stages", help="comma-separated stage names (default: every neural stage)")
    build.add_argument(
        "--target",
        choices=("cpu", *NGC_TARGETS),
        default="cpu",
        help="cpu: python backend + ONNX Runtime (this repository; docker/Dockerfile's Debian image); ngc-cpu/ngc-gpu: "
        "Triton's native onnxruntime backend in NVIDIA's image (needs --export)",
    )
    build.add_argument(
        "--export",
        type=Path,
        help="write a complete repository for --target here (ONNX included), for a container to mount read-only",
    )
    build.add_argument("--pipelines", help="--export: only the models these comma-separated pipelines use")
    build.set_defaults(handler=cmd_build)

    train = commands.add_parser("train", help="train one of our own networks (see --help of each)")
    train.add_argument("network", help="espcn_x2, sr_x4, dejpeg, camera_x2, camera_x1, refine")
    train.add_argument("rest", nargs=argparse.REMAINDER)
    train.set_defaults(handler=cmd_train)

    # Its options are lumaflow.build.evaluate's own (see `lumaflow eval --help`): passed through untouched.
    evaluate = commands.add_parser(
        "eval",
        help="benchmark the pipelines on labelled real photos (PSNR/SSIM vs classical baselines, CPU time)",
        add_help=False,
        prefix_chars="+",
    )
    evaluate.add_argument("rest", nargs=argparse.REMAINDER)
    evaluate.set_defaults(handler=cmd_eval)

    from lumaflow.client.cli import add_commands  # enhance, pipelines, health, camera: client-only imports

    add_commands(commands)
    from lumaflow.bench.cli import add_bench
    from lumaflow.loadtest.cli import add_loadtest  # imports stay inside each command
    from lumaflow.web.serve import add_web

    add_bench(add_loadtest(commands), commands)
    add_web(commands)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())

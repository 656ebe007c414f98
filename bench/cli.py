"""``lumaflow loadtest baselines`` and ``lumaflow tune``: the commands that start their own tritonservers.

``add_bench(kinds, commands)`` registers ``baselines`` among ``lumaflow loadtest``'s kinds (the
sub-parsers ``lumaflow.loadtest.cli.add_loadtest`` returns) and ``tune`` as a top-level command.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from lumaflow.loadtest.cli import frame_size, given, numbers


def _repository(args: argparse.Namespace) -> Path:
    """--model-repository, or the package's own, with its generated artefacts built."""
    from lumaflow.build.deploy import DEFAULT_REPOSITORY, ensure_artifacts

    repository: Path = args.model_repository.resolve() if args.model_repository else DEFAULT_REPOSITORY
    ensure_artifacts(repository)
    return repository


def cmd_baselines(args: argparse.Namespace) -> int:
    from lumaflow.bench.baselines import run

    repository = _repository(args)
    try:
        report = run(repository, args.pipeline, args.out, **given(args, "clients", "seconds", "side", "frame"))
    except ValueError as error:  # a routed pipeline has no one network stage to compare
        print(f"lumaflow loadtest baselines: error: {error}")
        return 1
    print(report.markdown())
    return 0


def cmd_tune(args: argparse.Namespace) -> int:
    from lumaflow.bench.tune import tune
    from lumaflow.ensemble.tuning import TUNING_FILE

    tuning_file = args.tuning_file or TUNING_FILE
    if args.engines is not None:
        from lumaflow.bench.tune import choose_engines

        chosen = choose_engines(args.engines, tuning_file)
        for stage, engine in chosen.items():
            print(f"{stage}: {engine}")
        print(f"wrote {tuning_file}; now run `lumaflow generate` to render the configs from it")
        return 0
    if args.int8 is not None:
        from lumaflow.bench.tune import choose_precisions

        for stage, precision in choose_precisions(args.int8, tuning_file).items():
            print(f"{stage}: {precision}")
        print(f"wrote {tuning_file}; now run `lumaflow generate` and `lumaflow build` to serve it")
        return 0
    repository = _repository(args)
    try:
        keywords = given(args, "delays_us", "instances", "clients", "seconds", "budget_ms", "side", "frame")
        entry = tune(repository, args.pipeline, batch_sizes=args.batch_sizes or (), tuning_file=tuning_file, **keywords)
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


def add_bench(kinds: Any, commands: Any) -> None:
    """``baselines`` under ``lumaflow loadtest`` (``kinds``), ``tune`` among the top-level ``commands``."""
    baselines = kinds.add_parser(
        "baselines", help="the stage's engine directly, Triton without batching and Lumaflow as shipped, in one run"
    )
    baselines.add_argument("--pipeline", default="upscale_x2_fast")
    baselines.add_argument("--out", type=Path, required=True)
    baselines.add_argument("--model-repository", type=Path, help="default: the package's model_repository")
    baselines.add_argument("--clients", type=int, default=16)
    baselines.add_argument("--seconds", type=float, default=20.0, help="per configuration")
    baselines.add_argument("--side", type=int, default=128, help="square photo crops sent (photo pipelines)")
    baselines.add_argument("--frame", type=frame_size, default=(320, 240), help="frame size (camera pipelines)")
    baselines.set_defaults(handler=cmd_baselines)

    tune = commands.add_parser(
        "tune", help="measure batching settings of a pipeline's network stage, write the best into tuning.json"
    )
    tune.add_argument("--pipeline", default="upscale_x2_fast")
    tune.add_argument("--model-repository", type=Path, help="default: the package's model_repository")
    tune.add_argument("--batch-sizes", type=numbers, help="max_batch_size candidates (default: the declared one)")
    tune.add_argument(
        "--delays-us",
        type=lambda text: [int(v) for v in text.split(",")],
        default=[0, 2000, 5000, 10000],
        help="max_queue_delay_microseconds candidates",
    )
    tune.add_argument("--instances", type=numbers, default=[1], help="instance count candidates, e.g. 1,2")
    tune.add_argument("--clients", type=int, default=16)
    tune.add_argument("--seconds", type=float, default=10.0, help="per candidate")
    tune.add_argument("--budget-ms", type=float, default=1000.0, help="p99 a candidate must stay within")
    tune.add_argument("--side", type=int, default=128)
    tune.add_argument("--frame", type=frame_size, default=(320, 240))
    tune.add_argument("--tuning-file", type=Path, help="default: the package's ensemble/tuning.json")
    tune.add_argument(
        "--engines",
        type=Path,
        nargs="+",
        metavar="REPORT",
        help="instead: each stage's engine from `python -m lumaflow.bench.engines --out REPORT` reports (several:"
        " the median of each stage's ratio)",
    )
    tune.add_argument(
        "--int8",
        type=Path,
        metavar="REPORT",
        help="instead: each photo stage's precision (int8 or fp32) from the int8 rows of a"
        " `python -m lumaflow.bench.engines --out REPORT` report",
    )
    tune.set_defaults(handler=cmd_tune)

"""``python -m lumaflow.bench.memory``: what a served model repository holds in memory at rest, per model.

Starts tritonserver on the repository (every model loaded and warmed, no load), then reads /proc once
(``lumaflow.loadtest.memory``): the whole server as PSS (shared pages counted once: the figure to size a pod by) and
as the RSS sum most tools show, and each python-backend stub's RSS by the model it runs. What a model's second
instance costs is its stub's RSS; the sums show where the memory is.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lumaflow.build.deploy import DEFAULT_REPOSITORY
from lumaflow.loadtest.memory import rss_bytes, tree_pss_bytes, tree_rss_bytes
from lumaflow.loadtest.report import machine, write_json
from lumaflow.server.process import running_server

MIB = 1024 * 1024


def served_memory(repository: Path) -> dict[str, Any]:
    """The server's PSS and RSS sum at rest, and each model's stubs' RSS (MiB), largest first."""
    with running_server(repository) as server:
        stubs: dict[str, list[float]] = {}
        for pid, model in server.stub_models().items():
            stubs.setdefault(model, []).append(round(rss_bytes(pid) / MIB, 1))
        pss, rss = tree_pss_bytes(server.pid), tree_rss_bytes(server.pid)
    by_size = sorted(stubs.items(), key=lambda item: -sum(item[1]))
    return {
        "repository": str(repository),
        "stubs": sum(len(sizes) for sizes in stubs.values()),
        "server_pss_mib": round(pss / MIB, 1),
        "server_rss_sum_mib": round(rss / MIB, 1),
        "stub_rss_mib": {model: sorted(sizes, reverse=True) for model, sizes in by_size},
    }


def table(report: dict[str, Any]) -> str:
    lines = [
        f"{report['stubs']} stubs; the server {report['server_pss_mib']:.0f} MiB PSS, "
        f"{report['server_rss_sum_mib']:.0f} MiB RSS summed",
        "",
        "| model | stubs | RSS MiB each |",
        "| --- | ---: | --- |",
    ]
    for model, sizes in report["stub_rss_mib"].items():
        lines.append(f"| {model} | {len(sizes)} | {', '.join(f'{size:.0f}' for size in sizes)} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lumaflow.bench.memory", description=__doc__.splitlines()[0])
    parser.add_argument("--model-repository", type=Path, default=DEFAULT_REPOSITORY)
    parser.add_argument("--out", type=Path, help="write the JSON report here")
    args = parser.parse_args(argv)
    report = {"machine": machine(), **served_memory(args.model_repository)}
    print(table(report))
    if args.out:
        write_json(args.out, report)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

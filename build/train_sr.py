"""Train the x2 ESPCN (`lumaflow train espcn_x2`); kept as a module for ``python -m`` and old scripts."""

from __future__ import annotations

from lumaflow.build import WEIGHTS_DIR
from lumaflow.build.training import main as train_main

__all__ = ["WEIGHTS_DIR", "main"]


def main(argv: list[str] | None = None) -> int:
    return train_main("espcn_x2", argv)


if __name__ == "__main__":
    raise SystemExit(main())

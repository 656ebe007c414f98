"""Measured settings, laid over the stage declarations (written by ``lumaflow tune``, never by hand).

``ensemble/tuning.json`` maps a stage name to the ``max_batch_size``, ``max_queue_delay_us`` and
instance ``count`` that ``lumaflow tune`` measured best on some machine, and the ``engine`` that
``lumaflow tune --engines`` chose from ``lumaflow.bench.engines``' report, and the ``precision`` (``int8``: the
embedded target serves NNCF's int8 IR; ``fp32``) that ``lumaflow tune --int8`` chose from its int8 rows, with the
measurements that chose them. ``STAGES`` is built with these applied, so every generated config, ensemble and build
step sees one set of values; the declarations in ``stages.py`` stay the defaults a stage starts from.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .stages import Stage

TUNING_FILE = Path(__file__).resolve().parent / "tuning.json"
TUNED_FIELDS = ("max_batch_size", "max_queue_delay_us", "instances", "engine", "precision")
PRECISIONS = ("fp32", "int8")


def read_tuning(path: Path = TUNING_FILE) -> dict[str, dict[str, Any]]:
    return json.loads(path.read_text()) if path.is_file() else {}


def tuned(stage: Stage, settings: dict[str, Any]) -> Stage:
    """``stage`` with the tuned fields of ``settings`` applied (others are records, ignored here)."""
    changes: dict[str, Any] = {}
    if "max_batch_size" in settings:
        changes["max_batch_size"] = int(settings["max_batch_size"])
    if "max_queue_delay_us" in settings:
        if stage.dynamic_batching is None:
            raise ValueError(f"stage {stage.name!r} has no dynamic batching to tune")
        changes["dynamic_batching"] = replace(
            stage.dynamic_batching, max_queue_delay_us=int(settings["max_queue_delay_us"])
        )
    if "instances" in settings:
        changes["instances"] = replace(stage.instances, count=int(settings["instances"]))
    if "engine" in settings:
        if stage.network is None:
            raise ValueError(f"stage {stage.name!r} has no network to run on another engine")
        changes["network"] = replace(stage.network, engine=str(settings["engine"]))
    if "precision" in settings:
        if settings["precision"] not in PRECISIONS:
            raise ValueError(f"stage {stage.name!r}: precision {settings['precision']!r} is not one of {PRECISIONS}")
        network = changes.get("network", stage.network)
        if network is None:
            raise ValueError(f"stage {stage.name!r} has no network to quantise")
        changes["network"] = replace(network, embedded_int8=settings["precision"] == "int8")
    return replace(stage, **changes) if changes else stage


def apply_tuning(stages: dict[str, Stage], path: Path = TUNING_FILE) -> dict[str, Stage]:
    tuning = read_tuning(path)
    unknown = sorted(set(tuning) - set(stages))
    if unknown:
        raise ValueError(f"{path.name} tunes unknown stage(s): {', '.join(unknown)}")
    return {name: tuned(stage, tuning.get(name, {})) for name, stage in stages.items()}

"""The target gradings of the looks: one module per category, one function per look, named as the look.

Each function takes a float32 HxWx3 photo in [0, 1] and returns its grading (unclipped); its docstring is the
look's recipe in one line (docs/templates lists them). ``GRADINGS`` follows ``lumaflow.ensemble.looks.TEMPLATES``
name for name, and each look's function lives in its own category's module.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

import numpy as np

from lumaflow.ensemble.looks import CATEGORIES, TEMPLATES

Grading = Callable[[np.ndarray], np.ndarray]


def _collect() -> dict[str, Grading]:
    modules = {key: importlib.import_module(f"{__name__}.{key}") for key, _ in CATEGORIES}
    gradings: dict[str, Grading] = {}
    for look in TEMPLATES:
        function = getattr(modules[look.category], look.name, None)
        if not callable(function) or not (function.__doc__ or "").strip():
            raise RuntimeError(f"look {look.name}: no documented grading in {__name__}.{look.category}")
        gradings[look.name] = function
    return gradings


GRADINGS: dict[str, Grading] = _collect()


def recipe(name: str) -> str:
    """The look's recipe in one line (its grading's docstring)."""
    return " ".join((GRADINGS[name].__doc__ or "").split())


def grade(image: np.ndarray, name: str) -> np.ndarray:
    """The target grading of look ``name`` on a whole uint8 HxWx3 photo (deterministic)."""
    return grade_with(image, GRADINGS[name])


def grade_with(image: np.ndarray, grading: Grading) -> np.ndarray:
    """``grading`` on a whole uint8 HxWx3 photo, as `grade` does a look's: also for a recipe not among the looks."""
    y = grading(image.astype(np.float32) / 255.0)
    return np.round(np.clip(y, 0.0, 1.0) * 255.0).astype(np.uint8)

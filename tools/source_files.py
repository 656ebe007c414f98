"""Every ``.py`` file of the repository, for the lint checks (tools/check_imports.py, tools/check_sizes.py).

Environments, VCS data, caches and build artefacts are skipped: any folder whose name starts with ``.`` (``.venv``,
``.git``, ``.tools``, ``.setuptools-build``), any folder holding a ``pyvenv.cfg``, ``*.egg-info`` and the names in
``SKIPPED_FOLDERS``. Standard library only.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

# Folders never walked: virtual environments, VCS data, caches and build artefacts (any name starting with ``.``
# is skipped too, as is any folder holding a ``pyvenv.cfg``).
SKIPPED_FOLDERS: frozenset[str] = frozenset(
    {"node_modules", "__pycache__", "site-packages", "dist", "venv", "env", "htmlcov"}
)


def walk_python_files(root: Path) -> Iterator[Path]:
    """Every ``.py`` file below ``root`` (relative paths, sorted), skipping environments, caches and artefacts."""
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(
            name
            for name in subfolders
            if not name.startswith(".")
            and name not in SKIPPED_FOLDERS
            and not name.endswith(".egg-info")
            and not (Path(folder) / name / "pyvenv.cfg").exists()
        )
        for name in sorted(files):
            if name.endswith(".py"):
                yield (Path(folder) / name).relative_to(root)

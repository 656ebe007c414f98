"""Progress of a photo request, as a board of small files the tilers write and the progress model reads.

A Triton ensemble answers once, at the end; a 12 MP photo takes minutes on a CPU. A request that names an id
(OPTIONS ``progress``, ``lumaflow.contract.PROGRESS_ID_PATTERN``) gets each tiled stage's count published as
it goes: the tiler writes ``<root>/<id>/<stage>`` ("done total") after each tile, atomically (a temporary file
renamed over it), and the ``progress`` model reads them back for the caller. The tilers and the progress model
are processes of one tritonserver on one machine, so a folder of its temporary directory is enough; entries
older than ``KEEP_S`` are removed when the board is read, so the folder stays small without a janitor.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from pathlib import Path

from lumaflow import contract
from lumaflow.contract import PROGRESS_ID_PATTERN
from lumaflow.runtime.errors import InvalidInput

KEEP_S = 3600.0  # a finished request's counts stay readable this long
VALID_ID = re.compile(PROGRESS_ID_PATTERN)


def default_root() -> Path:
    """The board of this machine's user: one folder in the temporary directory."""
    return Path(tempfile.gettempdir()) / f"lumaflow-progress-{os.getuid()}"


class ProgressBoard:
    """Per request id, each stage's tiles done of total."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or default_root()

    def _folder(self, request_id: str) -> Path:
        if not VALID_ID.match(request_id):  # never a path of the caller's
            raise InvalidInput(
                contract.INVALID_OPTIONS, f"A progress id matches {PROGRESS_ID_PATTERN}, not {request_id!r}."
            )
        return self.root / request_id

    def post(self, request_id: str, stage: str, done: int, total: int) -> None:
        """Record ``done`` of ``total`` tiles for ``stage`` (a write of a few bytes and a rename)."""
        folder = self._folder(request_id)
        folder.mkdir(parents=True, exist_ok=True)
        partial = folder / f".{stage}.{os.getpid()}"
        partial.write_text(f"{done} {total}")
        os.replace(partial, folder / stage)

    def read(self, request_id: str) -> dict[str, object]:
        """``{"stages": {stage: [done, total]}, "age_s": seconds since the last post}``, or {} before any."""
        self._forget_old()
        folder = self._folder(request_id)
        stages: dict[str, list[int]] = {}
        newest = 0.0
        try:
            entries = [entry for entry in folder.iterdir() if not entry.name.startswith(".")]
        except FileNotFoundError:
            return {}
        for entry in entries:
            try:
                done, total = (int(part) for part in entry.read_text().split())
                newest = max(newest, entry.stat().st_mtime)
            except (OSError, ValueError):
                continue  # replaced or removed while read: the next read sees it
            stages[entry.name] = [done, total]
        if not stages:
            return {}
        return {"stages": dict(sorted(stages.items())), "age_s": round(max(0.0, time.time() - newest), 3)}

    def _forget_old(self) -> None:
        cutoff = time.time() - KEEP_S
        try:
            folders = list(self.root.iterdir())
        except FileNotFoundError:
            return
        for folder in folders:
            try:
                if folder.stat().st_mtime < cutoff:
                    shutil.rmtree(folder, ignore_errors=True)
            except FileNotFoundError:
                continue

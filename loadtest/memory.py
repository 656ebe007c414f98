"""Memory of a tritonserver and its python-backend stubs, sampled while a load runs.

Summed as PSS (proportional set size, /proc/PID/smaps_rollup): the server and its stubs map the
same shared-memory regions for every tensor they pass, and summing RSS would count those pages
once per process.
"""

from __future__ import annotations

import threading
from pathlib import Path
from types import TracebackType

from lumaflow.server.triton import child_pids


def pss_bytes(pid: int) -> int:
    """The PSS of one process in bytes (0 when it has gone)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def tree_pss_bytes(pid: int) -> int:
    """The PSS of ``pid`` and its direct children (tritonserver and its stubs)."""
    return pss_bytes(pid) + sum(pss_bytes(child) for child in child_pids(pid))


class PeakMemory:
    """A context manager that samples ``tree_pss_bytes(pid)`` every ``interval_s`` and keeps the peak."""

    def __init__(self, pid: int, interval_s: float = 0.2) -> None:
        self.pid = pid
        self.interval_s = interval_s
        self.baseline = 0
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_pss_bytes(self.pid))
            self._stop.wait(self.interval_s)

    def __enter__(self) -> PeakMemory:
        self.baseline = self.peak = tree_pss_bytes(self.pid)
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()

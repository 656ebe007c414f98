"""Memory of a tritonserver and its python-backend stubs, sampled while a load runs.

Summed as PSS (proportional set size, /proc/PID/smaps_rollup): the server and its stubs map the
same shared-memory regions for every tensor they pass, and summing RSS counts those pages once per
process. The RSS sum is kept too, since it is the figure most tools show. Only /proc is read: any
process can be sampled (``lumaflow loadtest overload --server-pid``), whoever started it.
"""

from __future__ import annotations

import threading
from pathlib import Path
from types import TracebackType


def child_pids(pid: int) -> list[int]:
    """PIDs whose parent is ``pid`` (a tritonserver's python-backend stubs), read from /proc/PID/stat."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # gone meanwhile
            continue
        # After the parenthesised command name (which may hold spaces): the state, then the parent's PID.
        if int(text[text.rindex(")") + 2 :].split()[1]) == pid:
            children.append(int(stat.parent.name))
    return children


def _status_bytes(path: str, field: str) -> int:
    """A ``Field:  N kB`` line of a /proc file, in bytes (0 when the process has gone)."""
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def pss_bytes(pid: int) -> int:
    """The PSS of one process in bytes (0 when it has gone)."""
    return _status_bytes(f"/proc/{pid}/smaps_rollup", "Pss:")


def rss_bytes(pid: int) -> int:
    """VmRSS of one process in bytes (0 when it has gone): shared pages count in every process mapping them."""
    return _status_bytes(f"/proc/{pid}/status", "VmRSS:")


def tree_pss_bytes(pid: int) -> int:
    """The PSS of ``pid`` and its direct children (tritonserver and its stubs)."""
    return pss_bytes(pid) + sum(pss_bytes(child) for child in child_pids(pid))


def tree_rss_bytes(pid: int) -> int:
    """The VmRSS sum of ``pid`` and its direct children."""
    return rss_bytes(pid) + sum(rss_bytes(child) for child in child_pids(pid))


class PeakMemory:
    """A context manager that samples ``pid`` and its children every ``interval_s`` and keeps the peaks.

    ``baseline`` and ``peak`` are PSS sums; ``baseline_rss`` and ``peak_rss`` the VmRSS sums.
    """

    def __init__(self, pid: int, interval_s: float = 0.2) -> None:
        self.pid = pid
        self.interval_s = interval_s
        self.baseline = self.peak = self.baseline_rss = self.peak_rss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_pss_bytes(self.pid))
            self.peak_rss = max(self.peak_rss, tree_rss_bytes(self.pid))
            self._stop.wait(self.interval_s)

    def __enter__(self) -> PeakMemory:
        self.baseline = self.peak = tree_pss_bytes(self.pid)
        self.baseline_rss = self.peak_rss = tree_rss_bytes(self.pid)
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()

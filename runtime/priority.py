"""A stub's share of the cores: photo work runs niced so camera frames keep theirs (``cpu_nice``, issue 26)."""

from __future__ import annotations

import os
from pathlib import Path


def lower_cpu_priority(nice: int) -> None:
    """Run every thread of this process at niceness ``nice`` or lower priority (never raise it).

    Linux keeps a niceness per thread and a new thread inherits its creator's, so setting each thread that
    exists now covers the ones started later (an engine's pool is created by one of them).
    """
    for task in Path("/proc/self/task").iterdir():
        tid = int(task.name)
        try:
            os.setpriority(os.PRIO_PROCESS, tid, max(nice, os.getpriority(os.PRIO_PROCESS, tid)))
        except ProcessLookupError:  # the thread ended meanwhile
            continue

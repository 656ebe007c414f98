"""What /proc says about a tritonserver's processes: its children, its stubs by model or shm prefix, liveness."""

from __future__ import annotations

import os
from pathlib import Path


def _proc_stat(pid: int | str) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (state first, then ppid), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is parenthesised and may contain spaces and parentheses itself.
    return stat[stat.rindex(")") + 2 :].split()


def cmdline(pid: int | str) -> list[bytes] | None:
    """The NUL-separated arguments of ``pid``, or None when it is gone (or was never there)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None


def child_pids(pid: int) -> list[int]:
    """PIDs whose parent is ``pid`` (the python-backend stubs of a tritonserver)."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _proc_stat(entry.name)
            if fields is not None and int(fields[1]) == pid:
                children.append(int(entry.name))
    return children


def model_stubs(server_pid: int, model: str) -> list[int]:
    """The python-backend stubs of a tritonserver that run ``model`` (one per instance)."""
    entry = f"/{model}/1/model.py".encode()
    return [pid for pid in child_pids(server_pid) if entry in b" ".join(cmdline(pid) or [])]


def stubs_with_prefix(shm_prefix: str) -> list[int]:
    """Live python-backend stubs whose shared-memory region (their second argument) starts with ``shm_prefix``.

    Each server has its own prefix, so this finds its stubs whichever backend directory they run from, and
    unlike ``child_pids`` still finds one whose server has exited (init's child then), e.g. one forked while
    a failed start was being stopped (seen once: a stub lived on for 20 minutes).
    """
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        argv = cmdline(entry.name)
        if argv is not None and len(argv) > 2 and argv[2].startswith(shm_prefix.encode()) and pid_alive(entry.name):
            found.append(int(entry.name))
    return found


def cpu_seconds(pid: int | str) -> float | None:
    """CPU seconds ``pid`` has used, all its threads, user and system (its stat's utime and stime); None if gone."""
    fields = _proc_stat(pid)
    if fields is None:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pid_alive(pid: int | str) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not yet reaped, does not count)."""
    fields = _proc_stat(pid)
    return fields is not None and fields[0] != "Z"

"""A stub's niceness (issue 26): every thread, those started before and after, and never raised back."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit

PROGRAM = """
import os, threading
from lumaflow.runtime.priority import lower_cpu_priority

def niceness(results):
    results.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))

seen, ready, done = [], threading.Event(), threading.Event()
def early():
    ready.set(); done.wait(); niceness(seen)
before = threading.Thread(target=early); before.start(); ready.wait()
lower_cpu_priority(5)
after = threading.Thread(target=niceness, args=(seen,)); after.start(); after.join()
done.set(); before.join()
lower_cpu_priority(2)  # lower than now: kept at 5
niceness(seen)
print(sorted(seen))
"""


def test_every_thread_runs_at_the_niceness_and_it_is_never_raised_back() -> None:
    result = subprocess.run([sys.executable, "-c", PROGRAM], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[5, 5, 5]"

"""Reading tritonserver's log: the line that says why a start failed, and why a model was never loaded.

What ``TritonServer`` tells a person when tritonserver exits during start, when a model fails to load, or when
a model directory could not even be read; each wording below was measured with tritonserver 2.51.
"""

from __future__ import annotations

import contextlib
import json
import re
import signal
from pathlib import Path
from typing import Any

# tritonserver 2.51's log lines: severity letter (I, W, E; V verbose; F fatal), MMDD time, thread, source] message.
# Since 24.x the message is a quoted, escaped string: E1203 20:24:41.848940 10148 main.cc:257] "failed to ...".
LOG_LINE = re.compile(r"(?P<severity>[IWEFV])\d{4} \d\d:\d\d:\d\d\.\d+ +\d+ (?P<source>\S+:\d+)\] ?(?P<message>.*)")
# Fatal lines with no severity prefix: printed by main() before its logger runs, by the C++ runtime, or by
# Triton's signal handler (each measured with tritonserver 2.51, or the runtime's standard wording).
UNPREFIXED_FATAL = re.compile(
    r"(error: |terminate called|what\(\): |Signal \(\d+\) received|Segmentation fault|Fatal glibc error"
    r"|\*\*\* |\S*tritonserver: (unrecognized|invalid|unknown) option|.*Assertion .* failed|Check failed)"
)
# E lines tritonserver 2.51 prints on every start without a CUDA driver (the second once per ensemble; found by
# 20 cold starts of the full repository): never the reason a start failed.
HARMLESS_ERRORS = (
    re.compile(r"CudaDriverHelper has not been initialized\."),
    re.compile(r"unable to create stream for \S+: CUDA driver version is insufficient for CUDA runtime version"),
)
# A model directory Triton could not read (an unparsable config.pbtxt): the index lists the model with no state,
# the log says why on a "Poll failed" line, after protobuf's own parse error.
POLL_FAILED = "Poll failed for model directory '{model}'"
PARSE_ERROR = "Error parsing text-format"


def error_line(log: str) -> str | None:
    """tritonserver's first error line in ``log`` (E or F, or an unprefixed fatal one), never a warning.

    Only the message is returned, unquoted, cut to its telling line (``one_line``); a ``terminate called``
    line gets the ``what():`` line after it. None when the log holds no error.
    """
    lines = [line.strip() for line in log.splitlines()]
    for number, line in enumerate(lines):
        match = LOG_LINE.match(line)
        if match is not None:
            if match["severity"] in "EF":
                message = _unquote(match["message"])
                if message.strip() and not any(harmless.fullmatch(message.strip()) for harmless in HARMLESS_ERRORS):
                    return one_line(message)
        elif UNPREFIXED_FATAL.match(line):
            following = next((later for later in lines[number + 1 :] if later), "")
            if line.startswith("terminate called") and following.startswith("what():"):
                line = f"{line} {following}"
            return one_line(line)
    return None


def _unquote(message: str) -> str:
    """Triton 2.51 writes a message as a JSON-style string: unescape it (a plain message stays as it is)."""
    if len(message) >= 2 and message.startswith('"') and message.endswith('"'):
        with contextlib.suppress(ValueError):
            unquoted: Any = json.loads(message)
            if isinstance(unquoted, str):
                return unquoted
        return message[1:-1]
    return message


def exit_reason(code: int | None, log: str, log_path: Path) -> str:
    """One line for a tritonserver that exited during start: Triton's own error line, or that there was none."""
    how = f"exited ({code})"
    if code is not None and code < 0:
        with contextlib.suppress(ValueError):
            how = f"was killed by {signal.Signals(-code).name} ({code})"
    line = error_line(log)
    if line is None:
        return f"tritonserver {how} and logged no error line (log: {log_path})"
    return f"tritonserver {how}: {line} (log: {log_path})"


def one_line(text: str, limit: int = 400) -> str:
    """The telling line of a multi-line reason.

    Triton's python backend reports ``Internal: ValueError: message`` then ``At:`` and a
    traceback with file paths: the first line is the one a person needs.
    """
    lines = [line.strip() for line in text.split("\nAt:\n")[0].strip().splitlines() if line.strip()]
    line = lines[0] if lines else "no reason given"
    return line if len(line) <= limit else line[: limit - 1] + "…"


def unread_reason(log: str, model: str) -> str:
    """Why tritonserver never loaded ``model``, a directory it lists without a state: its "Poll failed" line and
    the parse error protobuf printed just before it, or that the log does not say."""
    lines = log.splitlines()
    marker = POLL_FAILED.format(model=model)
    for number, line in enumerate(lines):
        if marker in line:
            reason = line[line.index(marker) :].rstrip('"')
            parse = [earlier for earlier in lines[max(0, number - 3) : number] if PARSE_ERROR in earlier]
            if parse:
                reason += f" ({parse[-1][parse[-1].index(PARSE_ERROR) :]})"
            return one_line(reason)
    return "tritonserver lists it but never loaded it, and its log does not say why"

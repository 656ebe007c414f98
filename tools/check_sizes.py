"""Keep modules and functions small enough to read: no file over 450 lines, no function over 80.

The Structure issue's bounds. Declarations (``ensemble/``: one long table of stages and pipelines)
and tests are exempt, and so is an argparse table (a function that is mostly ``add_argument`` and
``add_parser`` calls): its length is its list of options, not logic. Run as
``python tools/check_sizes.py [ROOT]``; exit status 1 when anything is over. The files are those
``tools/check_imports.py`` walks (``tools/source_files.py``: no environments, caches or artefacts).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from source_files import walk_python_files

MAX_FILE_LINES = 450
MAX_FUNCTION_LINES = 80
EXEMPT_FOLDERS = ("ensemble", "tests")
ARGPARSE_CALLS = {"add_argument", "add_parser", "add_subparsers", "set_defaults", "add_mutually_exclusive_group"}
ARGPARSE_SHARE = 0.5  # of a function's statements, for it to count as an argparse table


def _python_files(root: Path) -> list[Path]:
    return [root / path for path in walk_python_files(root) if path.parts[0] not in EXEMPT_FOLDERS]


def _is_argparse_table(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    statements = [node for node in ast.walk(function) if isinstance(node, ast.stmt) and node is not function]
    calls = [
        node
        for node in ast.walk(function)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ARGPARSE_CALLS
    ]
    return bool(statements) and len(calls) >= ARGPARSE_SHARE * len(statements)


def problems(root: Path) -> list[str]:
    """One line per file or function over its bound."""
    found = []
    for path in _python_files(root):
        text = path.read_text()
        relative = path.relative_to(root)
        lines = len(text.splitlines())
        if lines > MAX_FILE_LINES:
            found.append(f"{relative}: {lines} lines (at most {MAX_FILE_LINES})")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES and not _is_argparse_table(node):
                    found.append(
                        f"{relative}:{node.lineno}: {node.name} has {length} lines (at most {MAX_FUNCTION_LINES})"
                    )
    return found


def main(argv: list[str]) -> int:
    root = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent.parent
    found = problems(root)
    for line in found:
        print(line)
    print(
        f"{len(found)} file(s) or function(s) over their bounds" if found else "every file and function within bounds"
    )
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

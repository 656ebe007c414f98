"""docs/ARCHITECTURE.md stays true: every path it names exists, and it stays short enough to read."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "ARCHITECTURE.md"
# Backquoted repository paths: a folder (ending in /) or a file with an extension; `<name>` is a placeholder.
PATH = re.compile(r"`((?:[\w.<>*-]+/)+(?:[\w.<>*-]+\.\w+)?)`|`([\w-]+\.(?:py|md|toml|pbtxt))`")


def named_paths(text: str) -> list[str]:
    return sorted({first or second for first, second in PATH.findall(text)})


def test_every_path_the_page_names_exists() -> None:
    paths = named_paths(PAGE.read_text())
    assert len(paths) > 25
    missing = []
    for name in paths:
        pattern = re.sub(r"<[^>]+>", "*", name).rstrip("/")
        if not list(ROOT.glob(pattern)):
            missing.append(name)
    assert not missing, f"docs/ARCHITECTURE.md names paths that do not exist: {missing}"


def test_the_page_is_at_most_150_lines() -> None:
    assert len(PAGE.read_text().splitlines()) <= 150

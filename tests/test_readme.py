"""The README's client example runs as written against a real server and a real photo."""

from __future__ import annotations

import os
import re
from pathlib import Path

from PIL import Image

from lumaflow.server.triton import TritonServer
from tests.photos import astronaut, encode

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_example() -> str:
    section = README.read_text().split("## Send a photo", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match, "the README lost its client example"
    return match.group(1)


def test_readme_starts_with_the_two_commands() -> None:
    commands = [line for line in README.read_text().splitlines()[:6] if line.startswith("make ")]
    assert [command.split()[1] for command in commands] == ["serve", "test"]


def test_readme_example_upscales_a_photo(server: TritonServer, tmp_path: Path, capsys) -> None:
    code = readme_example()
    assert len(code.strip().splitlines()) <= 12
    (tmp_path / "photo.jpg").write_bytes(encode(astronaut()[:200, :240], "JPEG", quality=90))
    previous = Path.cwd()
    os.chdir(tmp_path)
    try:
        exec(compile(code.replace("127.0.0.1:8001", server.endpoints.grpc_url), "README.md", "exec"), {})
    finally:
        os.chdir(previous)
    assert Image.open(tmp_path / "photo_x2.png").size == (480, 400)
    printed = capsys.readouterr().out
    assert "'waifu2x_x2'" in printed and "'decode'" in printed

"""The README's client example runs as written against a real server and a real photo."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lumaflow.server.process import TritonServer
from tests.fixtures import astronaut, encode

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_examples(heading: str) -> list[str]:
    """The python blocks of one README section, in order."""
    section = README.read_text().split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.DOTALL)
    assert blocks, f"the README lost its examples under {heading!r}"
    return blocks


def run_example(code: str, server: TritonServer, folder: Path) -> None:
    previous = Path.cwd()
    os.chdir(folder)
    try:
        exec(compile(code.replace("127.0.0.1:8001", server.endpoints.grpc_url), "README.md", "exec"), {})
    finally:
        os.chdir(previous)


@pytest.mark.unit
def test_readme_starts_with_the_two_commands() -> None:
    commands = [line for line in README.read_text().splitlines()[:6] if line.startswith("make ")]
    assert [command.split()[1] for command in commands] == ["serve", "test"]


@pytest.mark.served
def test_readme_examples_upscale_a_photo(server: TritonServer, tmp_path: Path, capsys) -> None:
    examples = readme_examples("Send a photo")
    assert len(examples) == 2 and all(len(code.strip().splitlines()) <= 12 for code in examples)
    (tmp_path / "photo.jpg").write_bytes(encode(astronaut()[:200, :240], "JPEG", quality=90))
    mask = np.zeros((200, 240), dtype=np.uint8)
    mask[80:110, 100:150] = 255
    (tmp_path / "mask.png").write_bytes(encode(mask))
    run_example(examples[0], server, tmp_path)  # lumaflow.client
    assert Image.open(tmp_path / "photo_x2.png").size == (480, 400)
    assert Image.open(tmp_path / "photo_clean.jpg").format == "JPEG"
    assert Image.open(tmp_path / "photo_without.png").size == (240, 200)
    assert Image.open(tmp_path / "photo_warm.png").size == (240, 200)
    printed = capsys.readouterr().out
    assert "(480, 400) {'decode'" in printed and "'worse': " in printed and "['warm_film', 'cross_process'," in printed
    (tmp_path / "photo_x2.png").unlink()
    run_example(examples[1], server, tmp_path)  # plain tritonclient
    assert Image.open(tmp_path / "photo_x2.png").size == (480, 400)
    printed = capsys.readouterr().out
    assert "'span_x2" in printed and "'decode'" in printed


@pytest.mark.served
def test_readme_camera_example_streams_frames(server: TritonServer, tmp_path: Path, capsys) -> None:
    (example,) = readme_examples("Stream camera frames")
    run_example(example, server, tmp_path)
    printed = capsys.readouterr().out
    delivered = re.search(r"delivered (\d+)/30 ", printed)
    assert delivered and int(delivered.group(1)) >= 1 and "(480, 640, 3)" in printed, printed

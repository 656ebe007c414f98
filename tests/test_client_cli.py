"""`lumaflow enhance / pipelines / health / camera` in-process against a real server; the slider page in Chromium."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lumaflow.cli import main
from lumaflow.client.compare import CAPTION, applied, compare_stem, slider_page
from lumaflow.server.endpoints import free_endpoints
from lumaflow.server.process import TritonServer
from tests.fixtures import astronaut, encode


@pytest.mark.served
def test_enhance_writes_the_result_and_the_compare_views(server: TritonServer, tmp_path: Path, capsys) -> None:
    source = tmp_path / "photo.jpg"
    source.write_bytes(encode(astronaut()[:96, :128], "JPEG", quality=90))
    out = tmp_path / "photo_x2.png"
    url = server.endpoints.grpc_url
    assert (
        main(["enhance", str(source), "-o", str(out), "--pipeline", "upscale_x2_fast", "--compare", "--url", url]) == 0
    )
    assert Image.open(out).size == (256, 192)
    assert Image.open(tmp_path / "photo_x2_compare.png").size == (256 + 8 + 256, 192 + CAPTION)
    page = (tmp_path / "photo_x2_compare.html").read_text()
    assert page.count("data:image/png;base64,") == 2 and "photo.jpg, upscale_x2_fast: espcn_x2" in page
    printed = capsys.readouterr().out
    assert "photo.jpg -> " in printed and "; quality " in printed and "(the input, bicubic x2)" in printed
    assert "; upscale_x2_fast: espcn_x2; compare: " in printed


@pytest.mark.served
def test_a_look_is_applied_by_name_and_its_comparison_names_it(server: TritonServer, tmp_path: Path, capsys) -> None:
    source = tmp_path / "photo.png"
    source.write_bytes(encode(astronaut()[:96, :128]))
    url = server.endpoints.grpc_url
    args = ["enhance", str(source), "-o", str(tmp_path / "vivid.png"), "--pipeline", "stylize", "--url", url]
    assert main([*args, "--template", "vivid", "--option", "strength=0.8", "--compare"]) == 0
    assert Image.open(tmp_path / "vivid.png").size == (128, 96)
    assert Image.open(tmp_path / "vivid_vivid_compare.png").size == (128 + 8 + 128, 96 + CAPTION)
    assert "stylize: vivid look at strength 0.8" in (tmp_path / "vivid_vivid_compare.html").read_text()
    assert "; stylize: vivid look at strength 0.8; compare: vivid_vivid_compare.png" in capsys.readouterr().out
    assert main([*args, "--template", "no_such_look"]) == 1
    error = capsys.readouterr().err
    assert "[invalid_options] OPTIONS.template: 'no_such_look' is not one of" in error, error


@pytest.mark.served
def test_enhance_with_a_mask_removes_what_it_marks(server: TritonServer, tmp_path: Path, capsys) -> None:
    photo = astronaut()[:96, :128]
    source, mask_file, out = tmp_path / "photo.png", tmp_path / "mask.png", tmp_path / "clean.png"
    source.write_bytes(encode(photo))
    mask = np.zeros(photo.shape[:2], dtype=np.uint8)
    mask[30:50, 40:70] = 255
    mask_file.write_bytes(encode(mask))
    url = server.endpoints.grpc_url
    args = ["enhance", str(source), "-o", str(out), "--pipeline", "inpaint", "--mask", str(mask_file), "--url", url]
    assert main(args) == 0
    result = np.asarray(Image.open(out).convert("RGB"))
    assert np.array_equal(result[:20], photo[:20]) and not np.array_equal(result[30:50, 40:70], photo[30:50, 40:70])
    assert main([*args[:7], str(tmp_path / "missing.png"), *args[8:]]) == 2
    assert "--mask no such file" in capsys.readouterr().err


@pytest.mark.served
def test_enhance_many_into_a_folder_reports_each_failure(server: TritonServer, tmp_path: Path, capsys) -> None:
    good, bad = tmp_path / "good.png", tmp_path / "bad.png"
    good.write_bytes(encode(astronaut()[:40, :40]))
    bad.write_bytes(b"not really a png")
    code = main(
        ["enhance", str(good), str(bad), "-o", str(tmp_path / "out"), "--pipeline", "denoise",
         "--option", "noise_level=10", "--option", "format=jpeg", "--url", server.endpoints.grpc_url]
    )  # fmt: skip
    assert code == 1
    assert Image.open(tmp_path / "out" / "good.jpg").size == (40, 40)
    assert "bad.png: InvalidImage: " in capsys.readouterr().err


@pytest.mark.served
def test_pipelines_and_health(server: TritonServer, capsys) -> None:
    assert main(["pipelines", "--url", server.endpoints.grpc_url]) == 0
    listed = capsys.readouterr().out
    assert "upscale_x2 " in listed and "camera_x2 " in listed and "noise_level" in listed
    assert "template warm_film " in listed and "template vintage_70s " in listed
    assert "Film stocks (8 looks):" in listed and "Food (" in listed  # grouped by category
    assert main(["health", "--url", server.endpoints.grpc_url]) == 0
    assert main(["health", "--url", server.endpoints.grpc_url, free_endpoints().grpc_url]) == 1


@pytest.mark.served
def test_camera_command_streams_and_writes_its_stats(server: TritonServer, tmp_path: Path) -> None:
    report = tmp_path / "camera.json"
    args = ["camera", "--frames", "40", "--fps", "15", "--budget-ms", "1000", "--json", str(report)]
    assert main([*args, "--url", server.endpoints.grpc_url]) == 0
    stats = json.loads(report.read_text())
    assert stats["submitted"] == 40 and stats["delivered"] + sum(stats["dropped"].values()) == 40


@pytest.mark.served
def test_camera_command_reads_a_video_file_over_grpc(server: TritonServer, tmp_path: Path) -> None:
    import cv2

    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter.fourcc(*"MJPG"), 15, (160, 120))
    for step in range(8):
        writer.write(np.roll(astronaut()[:120, :160, ::-1], 4 * step, axis=1).copy())
    writer.release()
    report = tmp_path / "camera.json"
    args = ["camera", "--source", str(video), "--size", "160x120", "--frames", "12", "--fps", "15"]
    args += ["--budget-ms", "2000", "--transport", "grpc", "--json", str(report), "--url", server.endpoints.grpc_url]
    assert main(args) == 0
    stats = json.loads(report.read_text())
    assert stats["submitted"] == 12 and stats["delivered"] >= 10, stats  # the 8-frame clip, looped


NO_CHROMIUM = "Debian's chromium is not installed (make test installs it)"


@pytest.mark.unit
@pytest.mark.skipif(shutil.which("chromium") is None, reason=NO_CHROMIUM)
def test_the_slider_page_shows_both_images_in_headless_chromium(tmp_path: Path) -> None:
    photo = astronaut()[:200, :300]
    inverted = 255 - photo  # unmistakably different from the photo
    page = slider_page(Image.fromarray(photo), Image.fromarray(inverted), tmp_path / "page.html", "test")
    shot = tmp_path / "shot.png"
    subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}", "--window-size=300,400",
         "--hide-scrollbars", page.as_uri()],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(np.int16)
    before, after = photo.astype(np.int16), inverted.astype(np.int16)
    # The 300 px frame fills the 300 px window; find its top below the caption by matching the left half.
    top = min(
        range(pixels.shape[0] - 200 + 1),
        key=lambda offset: float(np.abs(pixels[offset : offset + 50, 10:140] - before[:50, 10:140]).mean()),
    )
    shown = pixels[top : top + 200]
    assert np.abs(shown[:, 10:140] - before[:, 10:140]).mean() < 12  # left of the 50 % line: before
    assert np.abs(shown[:, 160:290] - after[:, 160:290]).mean() < 12  # right of it: after


@pytest.mark.unit
def test_the_comparison_says_what_each_kind_of_pipeline_applied() -> None:
    look = {"pipeline": "stylize", "analysis": {"template": {"name": "pastel", "strength": 1.0}}}
    assert applied(look) == "stylize: pastel look" and compare_stem("cat", look) == "cat_pastel_compare"
    routed = {
        "pipeline": "old_photo",
        "analysis": {"damage": {"coverage": 0.0213, "filled": True}},
        "route": [{"stage": "damage"}, {"stage": "gated_inpainter"}, {"stage": "colorize"}, {"stage": "waifu2x_x2"}],
    }
    assert applied(routed) == "old_photo: damage 2.1% found > gated_inpainter > colorize > waifu2x_x2"
    assert compare_stem("cat", routed) == "cat_compare"
    assert applied({"pipeline": "photo_enhance", "route": []}) == "photo_enhance: nothing needed"
    plain = {"pipeline": "upscale_x8", "stages": ["decode", "srmd_x4", "waifu2x_x2", "quality_check", "encode"]}
    assert applied(plain) == "upscale_x8: srmd_x4 > waifu2x_x2"

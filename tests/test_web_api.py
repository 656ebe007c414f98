"""The web page's routes over real HTTP, in front of the suite's real tritonserver (the browser tests drive the page).

Each test talks to a ``WebServer`` (uvicorn in a thread of this process) on a free loopback port, which talks to
the server over gRPC through ``lumaflow.client``.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Iterator

import httpx
import numpy as np
import pytest
from PIL import Image

from lumaflow.client import LumaflowClient
from lumaflow.server.endpoints import free_endpoints
from lumaflow.server.process import TritonServer
from lumaflow.web.serve import WebError, WebServer, web_settings
from lumaflow.web.settings import WebSettings
from tests.fixtures import astronaut, decode, encode, sporco_photo

pytestmark = pytest.mark.served


@pytest.fixture(scope="module")
def page(server: TritonServer) -> Iterator[str]:
    port = free_endpoints().grpc_port
    web = WebServer(WebSettings(urls=(server.endpoints.grpc_url,)), "127.0.0.1", port)
    web.start()
    try:
        yield web.url.rstrip("/")
    finally:
        web.stop()


def _job(page: str, photo: bytes, pipeline: str, options: dict | None = None, **files: bytes) -> dict:
    """Send one photo, wait for its job to end; the last status (and every progress seen, under "seen")."""
    parts = {"file": ("photo.png", photo), **{name: (f"{name}.png", data) for name, data in files.items()}}
    fields = {"pipeline": pipeline, "options": json.dumps(options or {})}
    origin = {"Origin": page}
    created = httpx.post(f"{page}/api/jobs", files=parts, data=fields, headers=origin, timeout=120)
    assert created.status_code == 202, created.text
    seen = []
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        status = httpx.get(f"{page}/api/jobs/{created.json()['id']}").json()
        seen.append(status["progress"])
        if status["state"] in ("done", "failed"):
            return {**status, "seen": seen}
        time.sleep(0.1)
    raise AssertionError("the job did not end within 300 s")


def test_the_page_and_its_assets_load_with_a_strict_policy(page: str) -> None:
    index = httpx.get(page + "/")
    assert index.status_code == 200 and "app.js" in index.text
    assert "script-src 'self'" in index.headers["content-security-policy"]
    assert httpx.get(page + "/static/app.js").status_code == 200
    listed = httpx.get(page + "/api/pipelines").json()
    names = {entry["name"] for entry in listed["pipelines"]}
    assert {"upscale_x2", "denoise", "inpaint", "stylize"} <= names and "camera_x2" not in names
    assert listed["limits"]["max_upload_bytes"] == 64 * 1024 * 1024
    stylize = next(entry for entry in listed["pipelines"] if entry["name"] == "stylize")
    assert stylize["templates"][0]["thumbnail"].startswith("data:image/jpeg;base64,")


def test_a_job_matches_the_client_bit_for_bit_with_before_and_progress(page: str, server: TritonServer) -> None:
    photo = encode(sporco_photo("monarch")[:480, :640])
    done = _job(page, photo, "upscale_x2", {"format": "png"})
    assert done["state"] == "done", done
    result = httpx.get(page + done["result_url"])
    assert result.headers["content-disposition"] == 'attachment; filename="photo_upscale_x2.png"'
    with LumaflowClient(server.endpoints.grpc_url) as client:
        direct = client.enhance(photo, "upscale_x2", format="png")
    assert result.content == direct.data
    before = decode(httpx.get(page + done["before_url"]).content)
    source = sporco_photo("monarch")[:480, :640]
    expected = np.asarray(Image.fromarray(source).resize((1280, 960), Image.Resampling.BICUBIC))
    assert np.array_equal(before, expected)  # the server's decoded input, bicubic x2: aligned with the result
    fractions = [seen["fraction"] for seen in done["seen"] if seen["source"] == "server"]
    assert fractions and fractions == sorted(fractions), done["seen"]  # 3 x 4 tiles, counted by the server
    archive = zipfile.ZipFile(io.BytesIO(httpx.get(f"{page}/api/zip?ids={done['id']},{done['id']}x").content))
    assert archive.namelist() == ["photo_upscale_x2.png"] and archive.read("photo_upscale_x2.png") == direct.data


def test_a_brushed_region_reaches_the_server(page: str) -> None:
    photo = astronaut()[:256, :256]
    region = np.zeros((256, 256), dtype=np.uint8)
    region[:, :128] = 255
    options = {"noise_level": 25, "region_mode": "except"}
    done = _job(page, encode(photo), "denoise", options, region=encode(region))
    assert done["info"]["region"]["mode"] == "except" and done["info"]["region"]["coverage"] == 0.5
    result = decode(httpx.get(page + done["result_url"]).content)
    assert np.array_equal(result[:, :124], photo[:, :124])


def test_errors_come_back_typed_with_the_servers_sentence(page: str) -> None:
    refused = httpx.post(
        f"{page}/api/jobs",
        files={"file": ("notes.jpg", b"not a photo at all")},
        data={"pipeline": "denoise"},
        headers={"Origin": page},
    )
    assert refused.status_code == 400 and refused.json()["error"]["message"].startswith("[invalid_image] The IMAGE")
    preview = httpx.post(page + "/api/preview", files={"file": ("x.jpg", b"not a photo")}, headers={"Origin": page})
    assert preview.status_code == 400 and preview.json()["error"]["type"] == "InvalidImage"
    big = encode(np.zeros((2100, 2100, 3), dtype=np.uint8))
    too_large = _job(page, big, "upscale_x4")
    assert too_large["error"]["type"] == "ImageTooLarge" and "4" in too_large["error"]["message"]
    foreign = httpx.post(page + "/api/preview", files={"file": ("x.png", big)}, headers={"Origin": "http://evil"})
    assert foreign.status_code == 403


def test_a_web_token_is_needed_off_loopback_and_logs_in_with_a_cookie(server: TritonServer, tmp_path) -> None:
    with pytest.raises(WebError, match="not loopback"):
        web_settings(["127.0.0.1:1"], "0.0.0.0")
    token_file = tmp_path / "web-token"
    token_file.write_text("a-long-enough-web-token\n")
    settings = web_settings([server.endpoints.grpc_url], "127.0.0.1", None, token_file)
    web = WebServer(settings, "127.0.0.1", free_endpoints().grpc_port)
    web.start()
    try:
        url = web.url.rstrip("/")
        assert httpx.get(url + "/api/pipelines").status_code == 401
        assert httpx.get(url + "/static/app.css").status_code == 200  # the login form's own style
        assert httpx.get(url + "/").headers["location"] == "/login"
        wrong = httpx.post(url + "/login", data={"token": "nope"}, headers={"Origin": url})
        assert wrong.status_code == 401
        with httpx.Client(base_url=url) as browser:
            login = browser.post("/login", data={"token": "a-long-enough-web-token"}, headers={"Origin": url})
            assert login.status_code == 303 and "httponly" in login.headers["set-cookie"].lower()
            assert "samesite=strict" in login.headers["set-cookie"].lower()
            assert browser.get("/api/pipelines").status_code == 200
            assert browser.post("/api/preview", files={"file": ("x.png", b"x")}).status_code == 403  # no Origin
    finally:
        web.stop()

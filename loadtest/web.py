"""``lumaflow loadtest web``: what the web page costs, against the client alone, in one run.

Two figures the page promises: it loads fast (the page and its assets, fetched as a browser does on a first
visit: ``/``, ``app.css``, ``app.js``, ``/api/pipelines``), and it adds little to a photo's end-to-end time. For
the second, one photo is sent ``--repeats`` times each way, interleaved so that machine load hits both alike:
through ``LumaflowClient.enhance`` directly, and through the page as its script does it (``/api/preview``,
``POST /api/jobs``, polling ``/api/jobs/<id>`` every 250 ms, ``GET`` the result). The preview is counted: the page
asks for it when a photo is added. The report gives medians, their ratio, and the machine.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from lumaflow.client import LumaflowClient
from lumaflow.loadtest.report import machine

POLL_S = 0.25  # as web/static/app.js polls


@dataclass
class WebReport:
    pipeline: str
    photo: str
    page_load_ms: list[float] = field(default_factory=list)
    client_s: list[float] = field(default_factory=list)
    page_s: list[float] = field(default_factory=list)
    machine: dict[str, Any] = field(default_factory=machine)

    @property
    def overhead(self) -> float:
        return statistics.median(self.page_s) / statistics.median(self.client_s) - 1

    def table(self) -> str:
        def row(name: str, values: list[float], unit: str) -> str:
            return f"| {name} | {statistics.median(values):.3f} {unit} | {min(values):.3f} | {max(values):.3f} |"

        return "\n".join(
            [
                f"{self.pipeline}, {self.photo}",
                "",
                "| measure | median | min | max |",
                "| --- | --- | --- | --- |",
                row("page load (/, css, js, pipelines)", self.page_load_ms, "ms"),
                row("photo through the client", self.client_s, "s"),
                row("photo through the page", self.page_s, "s"),
                "",
                f"the page adds **{self.overhead:+.1%}** to the photo's end-to-end time (medians)",
            ]
        )


def _page_load(page: str) -> float:
    started = time.perf_counter()
    with httpx.Client(base_url=page) as browser:
        for path in ("/", "/static/app.css", "/static/app.js", "/api/pipelines"):
            browser.get(path).raise_for_status()
    return (time.perf_counter() - started) * 1e3


def _through_page(page: str, data: bytes, pipeline: str, options: dict[str, Any]) -> float:
    started = time.perf_counter()
    origin = {"Origin": page.rstrip("/")}
    with httpx.Client(base_url=page, timeout=900) as browser:
        browser.post("/api/preview", files={"file": ("photo", data)}, headers=origin).raise_for_status()
        form = {"pipeline": pipeline, "options": json.dumps(options)}
        created = browser.post("/api/jobs", files={"file": ("photo", data)}, data=form, headers=origin)
        created.raise_for_status()
        while True:
            job = browser.get(f"/api/jobs/{created.json()['id']}").json()
            if job["state"] in ("done", "failed"):
                break
            time.sleep(POLL_S)
        if job["state"] != "done":
            raise RuntimeError(f"the page's job failed: {job['error']}")
        browser.get(job["result_url"]).raise_for_status()
    return time.perf_counter() - started


def run(
    url: str,
    page: str,
    pipeline: str,
    photo: Path,
    out: Path,
    *,
    repeats: int = 5,
    options: dict[str, Any] | None = None,
) -> WebReport:
    """Page loads and ``repeats`` photos each way, interleaved; writes report.json and report.md into ``out``."""
    data = photo.read_bytes()
    options = dict(options or {})
    report = WebReport(pipeline, f"{photo.name} ({len(data) / 1e6:.2f} MB)")
    report.page_load_ms = [_page_load(page) for _ in range(repeats)]
    with LumaflowClient(url, timeout=900) as client:
        client.enhance(data, pipeline, **options)  # warm both paths once, uncounted
        _through_page(page, data, pipeline, options)
        for _ in range(repeats):
            started = time.perf_counter()
            client.enhance(data, pipeline, **options)
            report.client_s.append(time.perf_counter() - started)
            report.page_s.append(_through_page(page, data, pipeline, options))
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps({**asdict(report), "overhead": report.overhead}, indent=2) + "\n")
    (out / "report.md").write_text(report.table() + "\n")
    return report

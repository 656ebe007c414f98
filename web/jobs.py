"""The web page's jobs: one photo through one pipeline, run by the async client, with progress and results on disk.

Each job runs as an asyncio task of the web application: it sends the photo through ``lumaflow.client``
(retries, failover, deadlines and typed errors are the client's) with an OPTIONS ``progress`` id, and
while it waits asks the servers for that id's tiles done of total (``AsyncLumaflowClient.progress``). A
pipeline with no tiled stage gets an estimate instead, from the seconds per megapixel the same pipeline
took here before. Results and the "before" images live in one temporary folder that is removed on stop;
names sent back are built from a cleaned stem of the uploaded name, never the name itself.
"""

from __future__ import annotations

import asyncio
import io
import re
import secrets
import shutil
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from lumaflow.client import AsyncLumaflowClient, LumaflowError, new_progress_id

POLL_S = 0.25  # how often a running job asks the servers how far it has got
KEEP_JOBS = 200  # finished jobs kept (their files too); the oldest go first
EXTENSIONS = {"png": "png", "jpeg": "jpg", "webp": "webp"}
ENSEMBLE_PREFIX = re.compile(r"^in ensemble '[^']*', ")


def clean_stem(name: str) -> str:
    """A file name's stem reduced to letters, digits, ``.``, ``_`` and ``-`` (at most 80): safe in a header or zip."""
    stem = Path(name.replace("\\", "/")).stem
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._")[:80]
    return cleaned or "photo"


def error_dict(error: BaseException) -> dict[str, str]:
    """A typed client error as the page shows it: its type and the server's sentence."""
    if isinstance(error, LumaflowError):  # Triton's "in ensemble 'NAME', " prefix says nothing to a person
        return {"type": type(error).__name__, "message": ENSEMBLE_PREFIX.sub("", str(error))}
    return {"type": "ServerError", "message": f"{type(error).__name__}: {error}"}


@dataclass
class Job:
    """One photo's run: what was asked, how far it is, what came back."""

    id: str
    name: str
    pipeline: str
    megapixels: float
    state: str = "queued"  # queued, running, done, failed
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    progress: dict[str, Any] = field(default_factory=lambda: {"fraction": None, "detail": "", "source": None})
    info: dict[str, Any] | None = None
    error: dict[str, str] | None = None
    result_path: Path | None = None
    before_path: Path | None = None

    @property
    def download_name(self) -> str:
        fmt = (self.info or {}).get("output", {}).get("format", "png")
        return f"{clean_stem(self.name)}_{self.pipeline}.{EXTENSIONS.get(fmt, 'png')}"

    def public(self) -> dict[str, Any]:
        end = self.finished if self.finished is not None else time.monotonic()
        answer: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "pipeline": self.pipeline,
            "state": self.state,
            "progress": self.progress,
            "elapsed_s": round(end - self.started, 2),
            "info": self.info,
            "error": self.error,
        }
        if self.state == "done":
            answer.update(
                download_name=self.download_name,
                result_url=f"/api/jobs/{self.id}/result",
                before_url=f"/api/jobs/{self.id}/before",
            )
        return answer


def tile_progress(answer: dict[str, Any]) -> dict[str, Any] | None:
    """The page's progress from the progress model's answer: all stages' tiles done over all tiles so far."""
    stages = answer.get("stages") or {}
    if not stages:
        return None
    done, total = sum(d for d, _ in stages.values()), sum(t for _, t in stages.values())
    detail = "; ".join(f"{stage}: {d} of {t} tiles" for stage, (d, t) in stages.items())
    return {"fraction": round(done / total, 4) if total else None, "detail": detail, "source": "server"}


class JobStore:
    """The jobs of one web application, their files in one temporary folder."""

    def __init__(self, client: AsyncLumaflowClient) -> None:
        self.client = client
        self.folder = Path(tempfile.mkdtemp(prefix="lumaflow-web-"))
        self.jobs: dict[str, Job] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.seconds_per_megapixel: dict[str, float] = {}  # measured here, per pipeline: the untiled estimate

    def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        shutil.rmtree(self.folder, ignore_errors=True)

    def start(self, job: Job, data: bytes, options: dict[str, Any], guide: dict[str, bytes], before: bytes) -> None:
        """Run ``job`` in the background; ``before`` is the photo as the server decoded it (the preview, a PNG)."""
        self.jobs[job.id] = job
        self._forget_old()
        task = asyncio.get_running_loop().create_task(self._run(job, data, options, guide, before))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def new_id(self) -> str:
        return secrets.token_hex(12)

    async def _run(
        self, job: Job, data: bytes, options: dict[str, Any], guide: dict[str, bytes], before: bytes
    ) -> None:
        progress_id = new_progress_id()
        job.state, job.started = "running", time.monotonic()
        watcher = asyncio.get_running_loop().create_task(self._watch(job, progress_id))
        try:
            result = await self.client.enhance(data, job.pipeline, **guide, **{**options, "progress": progress_id})
        except Exception as error:
            job.state, job.error = "failed", error_dict(error)
            return
        finally:
            watcher.cancel()
            job.finished = time.monotonic()
        job.info = result.info
        job.result_path = self.folder / f"{job.id}.result"
        job.result_path.write_bytes(result.data)
        job.before_path = self.folder / f"{job.id}.before.png"
        job.before_path.write_bytes(await asyncio.to_thread(before_at, before, result.info))
        self.seconds_per_megapixel[job.pipeline] = (job.finished - job.started) / max(job.megapixels, 1e-3)
        job.progress = {"fraction": 1.0, "detail": "done", "source": job.progress.get("source")}
        job.state = "done"

    async def _watch(self, job: Job, progress_id: str) -> None:
        """Until cancelled: the servers' tile counts, else an estimate from this pipeline's measured speed."""
        while True:
            await asyncio.sleep(POLL_S)
            try:
                answer = tile_progress(await self.client.progress(progress_id))
            except LumaflowError:
                answer = None
            if answer is not None:
                job.progress = answer
                continue
            rate = self.seconds_per_megapixel.get(job.pipeline)
            if rate is not None and job.progress.get("source") != "server":
                expected = rate * job.megapixels
                fraction = min(0.99, (time.monotonic() - job.started) / expected) if expected > 0 else None
                job.progress = {"fraction": fraction, "detail": f"about {expected:.0f} s", "source": "estimate"}

    def _forget_old(self) -> None:
        finished = [job for job in self.jobs.values() if job.state in ("done", "failed")]
        for job in sorted(finished, key=lambda job: job.started)[: max(0, len(finished) - KEEP_JOBS)]:
            for path in (job.result_path, job.before_path):
                if path is not None:
                    path.unlink(missing_ok=True)
            del self.jobs[job.id]

    def zip_of(self, ids: list[str]) -> bytes:
        """The done jobs' results in one zip, named as their downloads (a repeated name gets a number)."""
        buffer, used = io.BytesIO(), set()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
            for job in (self.jobs[i] for i in ids if i in self.jobs):
                if job.state != "done" or job.result_path is None:
                    continue
                name, count = job.download_name, 1
                while name in used:
                    count += 1
                    name = f"{Path(job.download_name).stem}_{count}{Path(job.download_name).suffix}"
                used.add(name)
                archive.write(job.result_path, name)
        return buffer.getvalue()


def before_at(preview: bytes, info: dict[str, Any]) -> bytes:
    """The server's decoded input at the result's size: as it is, or upscaled by Pillow's bicubic -- the same
    resampling the server returns where it was not asked to work -- as a PNG."""
    output = info.get("output", {})
    with Image.open(io.BytesIO(preview)) as image:
        size = (int(output.get("width", image.width)), int(output.get("height", image.height)))
        if image.size == size:
            return preview
        resized = image.convert("RGBA" if "A" in image.getbands() else "RGB").resize(size, Image.Resampling.BICUBIC)
        buffer = io.BytesIO()
        # Level 1, as the server's own PNGs once were: a x4 result's before-image is 16x the photo's pixels, and
        # Pillow's default level 6 writes it 4.3x slower for 13 % fewer bytes (docs/performance.md, "PNG encode").
        resized.save(buffer, format="PNG", compress_level=1)
        return buffer.getvalue()

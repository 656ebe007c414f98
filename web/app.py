"""``lumaflow web``: one page where a person enhances photos, brushes where, and compares before and after.

A Starlette application in front of Lumaflow servers. Every photo goes through ``lumaflow.client``'s async
client (gRPC, failover, deadlines, typed errors): the page adds no second way of calling the pipelines. The
page itself is static (``web/static``: no build step, no CDN) and talks to the JSON routes below:

- ``GET /api/pipelines``: the photo pipelines (``pipelines()``: OPTIONS schema, presets, looks with thumbnails)
  and the upload limit;
- ``POST /api/preview``: the server's own decoded, upright sRGB photo (a same-size pipeline at strength 0, which
  sends no tile to a network), what the brush paints over and the "before" half of the slider;
- ``POST /api/jobs``, ``GET /api/jobs/{id}`` (state, progress, INFO), ``/result``, ``/before``, ``GET /api/zip``.

Safety: uploads are refused above the servers' own limit (the largest ``max_input_megabytes``); files live in one
temporary folder; names are never trusted; every response carries a strict Content-Security-Policy. With a web
token (required off loopback) a login form sets an HttpOnly, SameSite=Strict cookie, and POSTs must come from
the page's own origin.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from lumaflow.client import AsyncLumaflowClient, EnhanceResult, LumaflowError, PipelineInfo
from lumaflow.web.jobs import Job, JobStore, error_dict
from lumaflow.web.login import LOGIN_PAGE
from lumaflow.web.settings import WebSettings

STATIC = Path(__file__).parent / "static"
COOKIE = "lumaflow_web"
CSP = (
    "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
STATUS = {  # typed client errors -> HTTP status of the page's request
    "InvalidImage": 400,
    "InvalidOptions": 400,
    "MaskMismatch": 400,
    "UnknownPipeline": 404,
    "ImageTooLarge": 413,
    "Overloaded": 503,
    "DeadlineExceeded": 504,
    "Unavailable": 502,
    "Unauthenticated": 502,
}
PREVIEW_OPTIONS = {"strength": 0, "quality_check": False, "format": "png"}
KEEP_PREVIEWS = 16
DEFAULT_UPLOAD_MB = 64.0


def described(info: PipelineInfo) -> dict[str, Any]:
    """A pipeline as the page reads it, the looks' thumbnails as data URLs."""
    return {
        "name": info.name,
        "kind": info.kind,
        "description": info.description,
        "scale": info.scale,
        "limits": info.limits,
        "options_schema": info.options_schema,
        "presets": info.presets,
        "inputs": list(info.inputs),
        "templates": [
            {
                "name": look.name,
                "description": look.description,
                "category": look.category,
                "category_title": look.category_title,
                "thumbnail": "data:image/jpeg;base64," + base64.b64encode(look.thumbnail).decode()
                if look.thumbnail
                else "",
            }
            for look in info.templates
        ],
    }


def _data_url(jpeg: bytes) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode() if jpeg else ""


def _problem(kind: str, message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": {"type": kind, "message": message}}, status_code=status)


def _failed(error: BaseException) -> JSONResponse:
    answer = error_dict(error)
    return JSONResponse({"error": answer}, status_code=STATUS.get(answer["type"], 500))


class Page:
    """The routes' shared state: the client, the jobs, the pipelines (listed once, then on demand)."""

    def __init__(self, settings: WebSettings) -> None:
        self.settings = settings
        self.client = AsyncLumaflowClient(list(settings.urls), token=settings.token, timeout=settings.timeout_s)
        self.jobs = JobStore(self.client)
        self.pipelines: dict[str, PipelineInfo] = {}
        self.secret = secrets.token_bytes(32)
        # The photos' previews by content: what the page fetched to paint on is the job's "before", not re-asked.
        self.previews: OrderedDict[str, EnhanceResult] = OrderedDict()

    async def preview(self, data: bytes) -> EnhanceResult:
        """The server's decoded, upright sRGB photo as a PNG (cached for the last ``KEEP_PREVIEWS`` photos)."""
        key = hashlib.sha256(data).hexdigest()
        if key in self.previews:
            self.previews.move_to_end(key)
            return self.previews[key]
        info = self.preview_pipeline()
        extra = {"noise_level": 0} if "noise_level" in info.options_schema.get("properties", {}) else {}
        result = await self.client.enhance(data, info.name, **PREVIEW_OPTIONS, **extra)
        self.previews[key] = result
        while len(self.previews) > KEEP_PREVIEWS:
            self.previews.popitem(last=False)
        return result

    async def photo_pipelines(self) -> dict[str, PipelineInfo]:
        if not self.pipelines:
            listed = await self.client.pipelines()
            self.pipelines = {info.name: info for info in listed if info.kind == "photo"}
        return self.pipelines

    def upload_limit(self) -> int:
        megabytes = [float(info.limits.get("max_input_megabytes", 0)) for info in self.pipelines.values()]
        return int(max(megabytes, default=DEFAULT_UPLOAD_MB) * 1024 * 1024)

    def cookie_value(self) -> str:
        token = (self.settings.web_token or "").encode()
        return hmac.new(self.secret, token, hashlib.sha256).hexdigest()

    def preview_pipeline(self) -> PipelineInfo:
        """A same-size pipeline with a blend strength: at strength 0 it returns the decoded photo, no network run."""
        for info in sorted(
            self.pipelines.values(), key=lambda info: -float(info.limits.get("max_input_megapixels", 0))
        ):
            if info.scale == 1 and "strength" in info.options_schema.get("properties", {}):
                return info
        raise LumaflowError("no same-size pipeline with a strength is served: no preview")


async def _form(page: Page, request: Request) -> Any:
    """The multipart form, refused above the upload limit before it is read."""
    limit = page.upload_limit()
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit + 1024 * 1024:
        raise _TooLarge(limit)
    return await request.form(max_files=3, max_fields=8, max_part_size=limit)


class _TooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"The file is larger than the servers take ({limit / 1024 / 1024:.0f} MB).")


async def _upload(form: Any, name: str, limit: int) -> tuple[bytes, str] | None:
    part = form.get(name)
    if not isinstance(part, UploadFile):
        return None
    data = await part.read()
    if len(data) > limit:  # a request sent without Content-Length is checked here
        raise _TooLarge(limit)
    return data, part.filename or "photo"


def routes(page: Page) -> list[Route | Mount]:
    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    async def pipelines(request: Request) -> Response:
        try:
            found = await page.photo_pipelines()
        except LumaflowError as error:
            return _failed(error)
        return JSONResponse(
            {
                "pipelines": [described(info) for info in found.values()],
                "limits": {"max_upload_bytes": page.upload_limit()},
            }
        )

    async def preview(request: Request) -> Response:
        try:
            await page.photo_pipelines()
            upload = await _upload(await _form(page, request), "file", page.upload_limit())
            if upload is None:
                return _problem("InvalidImage", "Choose a photo first.", 400)
            result = await page.preview(upload[0])
        except _TooLarge as error:
            return _problem("ImageTooLarge", str(error), 413)
        except LumaflowError as error:
            return _failed(error)
        size = result.info["output"]
        headers = {"X-Width": str(size["width"]), "X-Height": str(size["height"]), "Cache-Control": "no-store"}
        return Response(result.data, media_type="image/png", headers=headers)

    return [
        Route("/", index),
        Route("/api/pipelines", pipelines),
        Route("/api/preview", preview, methods=["POST"]),
        *job_routes(page),
        Route("/login", login, methods=["GET", "POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]


def job_routes(page: Page) -> list[Route]:
    async def create(request: Request) -> Response:
        try:
            found = await page.photo_pipelines()
            form = await _form(page, request)
            upload = await _upload(form, "file", page.upload_limit())
            pipeline = found.get(str(form.get("pipeline", "")))
            if upload is None or pipeline is None:
                return _problem("InvalidOptions", "Send a photo and a served pipeline.", 400)
            options = json.loads(str(form.get("options") or "{}"))
            if not isinstance(options, dict):
                return _problem("InvalidOptions", "OPTIONS must be a JSON object.", 400)
            guide = {
                name: part[0]
                for name in ("region", "mask")
                if (part := await _upload(form, name, page.upload_limit())) is not None
            }
            preview = await page.preview(upload[0])  # cached: the page asked for it to paint on
        except _TooLarge as error:
            return _problem("ImageTooLarge", str(error), 413)
        except json.JSONDecodeError:
            return _problem("InvalidOptions", "OPTIONS is not JSON.", 400)
        except LumaflowError as error:
            return _failed(error)
        size = preview.info["input"]
        job = Job(page.jobs.new_id(), upload[1], pipeline.name, size["width"] * size["height"] / 1e6)
        page.jobs.start(job, upload[0], options, guide, preview.data)
        return JSONResponse({"id": job.id, "state": job.state}, status_code=202)

    def found(request: Request) -> Job | None:
        return page.jobs.jobs.get(request.path_params["id"])

    async def status(request: Request) -> Response:
        job = found(request)
        return JSONResponse(job.public()) if job else _problem("NotFound", "No such job.", 404)

    async def result(request: Request) -> Response:
        job = found(request)
        if job is None or job.result_path is None:
            return _problem("NotFound", "No such result.", 404)
        return FileResponse(job.result_path, filename=job.download_name, media_type=_media(job.download_name))

    async def before(request: Request) -> Response:
        job = found(request)
        if job is None or job.before_path is None:
            return _problem("NotFound", "No such result.", 404)
        return FileResponse(job.before_path, media_type="image/png")

    async def archive(request: Request) -> Response:
        ids = [part for part in request.query_params.get("ids", "").split(",") if part]
        headers = {"Content-Disposition": 'attachment; filename="lumaflow.zip"'}
        return Response(page.jobs.zip_of(ids), media_type="application/zip", headers=headers)

    return [
        Route("/api/jobs", create, methods=["POST"]),
        Route("/api/jobs/{id:str}", status),
        Route("/api/jobs/{id:str}/result", result),
        Route("/api/jobs/{id:str}/before", before),
        Route("/api/zip", archive),
    ]


def _media(name: str) -> str:
    return {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp"}.get(name.rsplit(".", 1)[-1], "image/png")


async def login(request: Request) -> Response:
    page: Page = request.app.state.page
    if request.method == "POST":
        form = await request.form(max_fields=2, max_files=0)
        given = str(form.get("token", "")).encode()
        if page.settings.web_token and hmac.compare_digest(given, page.settings.web_token.encode()):
            response = RedirectResponse("/", status_code=303)
            response.set_cookie(COOKIE, page.cookie_value(), httponly=True, samesite="strict", path="/")
            return response
        return Response(LOGIN_PAGE.format(message="That token is not right."), media_type="text/html", status_code=401)
    return Response(LOGIN_PAGE.format(message=""), media_type="text/html")


def _guard(page: Page) -> Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]:
    """Headers on every response; with a web token, the cookie; on every POST, the page's own origin."""

    async def guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        origin = request.headers.get("origin")
        own = f"{request.url.scheme}://{request.headers.get('host', '')}"
        if request.method == "POST" and (origin != own if origin else bool(page.settings.web_token)):
            response: Response = _problem("Forbidden", "A request from another origin.", 403)
        elif page.settings.web_token and not _public(request.url.path) and not _logged_in(page, request):
            response = (
                RedirectResponse("/login", status_code=303)
                if request.url.path == "/"
                else _problem("Unauthenticated", "Log in first.", 401)
            )
        else:
            response = await call_next(request)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    return guard


def _public(path: str) -> bool:
    """The login form and the page's own static files (the form is styled by them): no cookie needed."""
    return path == "/login" or path.startswith("/static/")


def _logged_in(page: Page, request: Request) -> bool:
    return hmac.compare_digest(request.cookies.get(COOKIE, ""), page.cookie_value())


def create_app(settings: WebSettings) -> Starlette:
    page = Page(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> Any:
        yield
        page.jobs.close()
        await page.client.close()

    app = Starlette(
        routes=routes(page), lifespan=lifespan, middleware=[Middleware(BaseHTTPMiddleware, dispatch=_guard(page))]
    )
    app.state.page = page
    return app

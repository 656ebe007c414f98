"""``LumaflowClient``: the gRPC client production services call (threads welcome; one client, many calls).

    with LumaflowClient("localhost:8001") as lumaflow:
        result = lumaflow.enhance("photo.jpg", pipeline="upscale_x2", format="jpeg", quality=90)
        result.save("photo_x2.jpg")

Each call has a deadline (``timeout`` seconds, the client's default otherwise) that bounds every
try together; it is sent to the server too, as Triton's request timeout, because a gRPC deadline
does not reach the models inside an ensemble (measured with Triton 2.51), and a tiler stops sending
a large photo's tiles once it passes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from .core import PROBE_TIMEOUT_S, ClientCore, Progress
from .errors import LumaflowError, Unavailable, from_triton
from .images import ImageLike, encoded, encoded_mask, encoded_region
from .policy import Endpoint
from .protocol import (
    FRAME_OUTPUT,
    PROGRESS_MODEL,
    PipelineInfo,
    frame_inputs,
    photo_inputs,
    photo_options,
    photo_outputs,
    pipeline_info,
    progress_inputs,
    progress_output,
    served_models,
)
from .result import EnhanceResult


class LumaflowClient(ClientCore[grpcclient.InferenceServerClient]):
    """A client of one or several Lumaflow servers (``"host:port"`` each), round-robin with failover.

    ``max_in_flight`` bounds the calls in flight at once across all threads (backpressure, see
    ``lumaflow.client.core``): a call beyond it waits for a slot until its deadline, or with
    ``wait_when_full=False`` raises ``Overloaded`` at once without reaching the server.
    """

    def _client(self, url: str, **kwargs: Any) -> grpcclient.InferenceServerClient:
        return grpcclient.InferenceServerClient(url, **kwargs)

    def _new_slots(self, count: int) -> Any:
        return threading.BoundedSemaphore(count)

    # --- the calls -------------------------------------------------------------------------------------

    def enhance(
        self,
        image: ImageLike,
        pipeline: str = "upscale_x2",
        *,
        preset: str | None = None,
        timeout: float | None = None,
        mask: ImageLike | None = None,
        region: ImageLike | None = None,
        strength: float | None = None,
        region_mode: str | None = None,
        region_feather: float | None = None,
        **options: Any,
    ) -> EnhanceResult:
        """Send one photo (bytes, a path, a PIL image or a uint8 array) through ``pipeline``.

        ``options`` are the pipeline's OPTIONS keys (``format="jpeg"``, ``quality=85``, ...); the
        server validates them and answers ``InvalidOptions`` naming a bad one. ``mask`` is what the
        ``inpaint`` pipeline removes: a bool/uint8 HxW array or an image of the photo's size, white = remove.

        User guidance (the photo pipelines but ``inpaint``): ``region`` says where the result applies, an
        image of the photo's upright size, grey or alpha, above 127 = here (or a bool HxW array, True =
        here; see ``encoded_region``); ``region_mode`` is ``"only"`` (the default: enhance only there)
        or ``"except"`` (everywhere else), ``region_feather`` the blend's width across the region's edge
        in input pixels (default 8). ``strength`` (0..1, default 1) is how much of the result: 0 gives
        the input (or its bicubic upscale), 1 the full result. These three are OPTIONS keys, sent only
        when given (None = the server's default); each is one keyword, so giving one both by name and
        inside ``**options`` is a TypeError, never a silent override.
        """
        data = encoded(image)
        sent = photo_options(preset, options, strength=strength, region_mode=region_mode, region_feather=region_feather)
        mask_data = None if mask is None else encoded_mask(mask)
        inputs = photo_inputs(data, sent, mask_data, None if region is None else encoded_region(region))
        started = time.monotonic()
        result, endpoint, attempts = self._call(pipeline, lambda: inputs, timeout)
        enhanced, info = photo_outputs(result)
        return EnhanceResult(enhanced, info, time.monotonic() - started, endpoint.url, attempts)

    def progress(self, request_id: str) -> dict[str, Any]:
        """As ``AsyncLumaflowClient.progress``: each tiled stage's tiles done of total for the request sent with
        OPTIONS ``progress=request_id`` (``new_progress_id()`` makes one), asked of every server."""
        for endpoint in self.pool.endpoints:
            try:
                result = endpoint.client.infer(
                    PROGRESS_MODEL, progress_inputs(request_id), headers=self.headers, client_timeout=PROBE_TIMEOUT_S
                )
            except InferenceServerException:
                continue
            found = progress_output(result)
            if found:
                return found
        return {}

    def enhance_frame(
        self, frame: np.ndarray, pipeline: str = "camera_x2", *, timeout: float | None = None
    ) -> np.ndarray:
        """One raw uint8 HxWx3 frame through a camera pipeline (for streams, use ``CameraSession``)."""
        inputs = frame_inputs(frame)
        result, _, _ = self._call(pipeline, lambda: inputs, timeout)
        return np.asarray(result.as_numpy(FRAME_OUTPUT)[0])

    def enhance_many(
        self,
        images: Iterable[ImageLike],
        pipeline: str = "upscale_x2",
        *,
        concurrency: int = 4,
        progress: bool = False,
        preset: str | None = None,
        timeout: float | None = None,
        **options: Any,
    ) -> list[EnhanceResult | LumaflowError]:
        """Every image through ``pipeline`` with at most ``concurrency`` calls in flight, in input order.

        A failed image gives its ``LumaflowError`` in its place instead of stopping the others, so
        nothing is lost silently; ``progress`` prints a progress line on stderr.
        """
        items = list(images)
        shown = Progress(pipeline, len(items), progress)

        def one(image: ImageLike) -> EnhanceResult | LumaflowError:
            try:
                return self.enhance(image, pipeline, preset=preset, timeout=timeout, **options)
            except LumaflowError as error:
                return error
            finally:
                shown.step()

        with ThreadPoolExecutor(max(1, concurrency)) as pool:
            results = list(pool.map(one, items))
        shown.close()
        return results

    def pipelines(self) -> list[PipelineInfo]:
        """The pipelines the server serves, with their descriptions, OPTIONS schema and presets."""
        client = self._healthy_client()
        try:
            statistics = client.get_inference_statistics(as_json=True, headers=self.headers)
            found = []
            for name in served_models(statistics):
                config = client.get_model_config(name, as_json=True, headers=self.headers)["config"]
                info = pipeline_info(config)
                if info is not None:
                    found.append(info)
        except InferenceServerException as error:
            raise from_triton(error) from None
        return sorted(found, key=lambda info: info.name)

    def health(self) -> dict[str, dict[str, bool]]:
        """Per endpoint: whether the server is live and ready (never raises for a down server)."""
        report = {}
        for endpoint in self.pool.endpoints:
            report[endpoint.url] = {"live": self._probe(endpoint, "live"), "ready": self._probe(endpoint, "ready")}
        return report

    # --- the machinery ---------------------------------------------------------------------------------

    def _probe(self, endpoint: Endpoint[grpcclient.InferenceServerClient], what: str = "ready") -> bool:
        try:
            check = endpoint.client.is_server_ready if what == "ready" else endpoint.client.is_server_live
            return bool(check(headers=self.headers, client_timeout=PROBE_TIMEOUT_S))
        except InferenceServerException:
            return False

    def _healthy_client(self) -> grpcclient.InferenceServerClient:
        for _ in range(len(self.pool.endpoints)):
            endpoint, returning = self.pool.pick()
            if not returning or self._probe(endpoint):
                return endpoint.client
            self.pool.eject(endpoint)
        raise Unavailable(f"no server of {[e.url for e in self.pool.endpoints]} is ready")

    def _call(
        self, pipeline: str, inputs: Callable[[], list[grpcclient.InferInput]], timeout: float | None
    ) -> tuple[Any, Endpoint[grpcclient.InferenceServerClient], int]:
        """One call with retries and failover inside one deadline; the result, the endpoint that gave it, tries."""
        budget, deadline = self._deadline(timeout)
        if self._slots is None:
            return self._tries(pipeline, inputs, budget, deadline)
        if self.wait_when_full:
            acquired = self._slots.acquire(timeout=max(0.0, deadline - time.monotonic()))
        else:
            acquired = self._slots.acquire(blocking=False)
        if not acquired:
            raise self._full(pipeline, budget)
        try:
            return self._tries(pipeline, inputs, budget, deadline)
        finally:
            self._slots.release()

    def _tries(
        self, pipeline: str, inputs: Callable[[], list[grpcclient.InferInput]], budget: float, deadline: float
    ) -> tuple[Any, Endpoint[grpcclient.InferenceServerClient], int]:
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            endpoint, returning = self.pool.pick()
            try:
                remaining = self._remaining(budget, deadline, attempt)
                if returning and not self._probe(endpoint):
                    raise Unavailable(f"{endpoint.url} is not ready")
                result = endpoint.client.infer(pipeline, inputs(), **self._infer_kwargs(self.headers, remaining))
            except (InferenceServerException, LumaflowError) as raw:
                time.sleep(self._failed(pipeline, endpoint, raw, attempt, deadline))
                continue
            self._succeeded(pipeline, endpoint, started)
            return result, endpoint, attempt

    def close(self) -> None:
        for endpoint in self.pool.endpoints:
            client = endpoint.close()
            if client is not None:
                client.close()

    def __enter__(self) -> LumaflowClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

"""``AsyncLumaflowClient``: the same calls for asyncio services, on ``tritonclient.grpc.aio``.

    async with AsyncLumaflowClient("localhost:8001") as lumaflow:
        result = await lumaflow.enhance("photo.jpg", "upscale_x2")

Retries, failover, deadlines and errors behave exactly as ``LumaflowClient``'s (the decisions live in
``policy.py`` and ``errors.py``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Any

import tritonclient.grpc.aio as aioclient
from tritonclient.utils import InferenceServerException

from .core import PROBE_TIMEOUT_S, ClientCore, Progress
from .errors import LumaflowError, Unavailable, from_triton
from .images import ImageLike, encoded, encoded_mask, encoded_region
from .policy import Endpoint
from .protocol import (
    PROGRESS_MODEL,
    PipelineInfo,
    photo_inputs,
    photo_options,
    photo_outputs,
    pipeline_info,
    progress_inputs,
    progress_output,
    served_models,
)
from .result import EnhanceResult


class AsyncLumaflowClient(ClientCore[aioclient.InferenceServerClient]):
    """An asyncio client of one or several Lumaflow servers, round-robin with failover.

    ``max_in_flight`` and ``wait_when_full`` bound the calls in flight across all tasks, as
    ``LumaflowClient``'s do (see ``lumaflow.client.core``).
    """

    def _client(self, url: str, **kwargs: Any) -> aioclient.InferenceServerClient:
        return aioclient.InferenceServerClient(url, **kwargs)

    def _new_slots(self, count: int) -> Any:
        # Bound to no loop until first used (Python >= 3.10): the client may be made outside the loop.
        return asyncio.Semaphore(count)

    async def enhance(
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
        """As ``LumaflowClient.enhance`` (``region``, ``strength``, ``region_mode`` and ``region_feather``
        included: the mask and the region go again with every retry)."""
        data = encoded(image)
        sent = photo_options(preset, options, strength=strength, region_mode=region_mode, region_feather=region_feather)
        started = time.monotonic()
        mask_data = None if mask is None else encoded_mask(mask)
        region_data = None if region is None else encoded_region(region)
        result, endpoint, attempts = await self._call(pipeline, data, sent, timeout, mask_data, region_data)
        enhanced, info = photo_outputs(result)
        return EnhanceResult(enhanced, info, time.monotonic() - started, endpoint.url, attempts)

    async def enhance_many(
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
        """As ``LumaflowClient.enhance_many``: input order kept, each failure in its place."""
        items = list(images)
        slots = asyncio.Semaphore(max(1, concurrency))
        shown = Progress(pipeline, len(items), progress)

        async def one(image: ImageLike) -> EnhanceResult | LumaflowError:
            async with slots:
                try:
                    return await self.enhance(image, pipeline, preset=preset, timeout=timeout, **options)
                except LumaflowError as error:
                    return error
                finally:
                    shown.step()

        results = list(await asyncio.gather(*(one(image) for image in items)))
        shown.close()
        return results

    async def pipelines(self) -> list[PipelineInfo]:
        endpoint, _ = self.pool.pick()
        client = endpoint.client
        try:
            statistics = await client.get_inference_statistics(as_json=True, headers=self.headers)
            found = []
            for name in served_models(statistics):
                config = await client.get_model_config(name, as_json=True, headers=self.headers)
                info = pipeline_info(config["config"])
                if info is not None:
                    found.append(info)
        except InferenceServerException as error:
            raise from_triton(error) from None
        return sorted(found, key=lambda info: info.name)

    async def progress(self, request_id: str) -> dict[str, Any]:
        """How far the photo request sent with OPTIONS ``progress=request_id`` has got: ``{"stages": {stage: [tiles
        done, tiles in all]}, "age_s": seconds since the last tile}``, or {} before its first tile (or once an hour
        has passed). Every server is asked, since failover may have sent the request to any of them."""
        for endpoint in self.pool.endpoints:
            try:
                result = await endpoint.client.infer(
                    PROGRESS_MODEL, progress_inputs(request_id), headers=self.headers, client_timeout=PROBE_TIMEOUT_S
                )
            except InferenceServerException:
                continue
            found = progress_output(result)
            if found:
                return found
        return {}

    async def _probe(self, endpoint: Endpoint[aioclient.InferenceServerClient]) -> bool:
        try:
            return bool(await endpoint.client.is_server_ready(headers=self.headers, client_timeout=PROBE_TIMEOUT_S))
        except InferenceServerException:
            return False

    async def health(self) -> dict[str, dict[str, bool]]:
        report = {}
        for endpoint in self.pool.endpoints:
            ready = await self._probe(endpoint)
            try:
                live = bool(await endpoint.client.is_server_live(headers=self.headers, client_timeout=PROBE_TIMEOUT_S))
            except InferenceServerException:
                live = False
            report[endpoint.url] = {"live": live, "ready": ready}
        return report

    async def _call(
        self,
        pipeline: str,
        data: bytes,
        options: dict[str, Any],
        timeout: float | None,
        mask: bytes | None = None,
        region: bytes | None = None,
    ) -> tuple[Any, Endpoint[aioclient.InferenceServerClient], int]:
        budget, deadline = self._deadline(timeout)
        if self._slots is None:
            return await self._tries(pipeline, data, options, mask, region, budget, deadline)
        if self._slots.locked() and not self.wait_when_full:
            raise self._full(pipeline, budget)
        try:
            await asyncio.wait_for(self._slots.acquire(), max(0.0, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            raise self._full(pipeline, budget) from None
        try:
            return await self._tries(pipeline, data, options, mask, region, budget, deadline)
        finally:
            self._slots.release()

    async def _tries(
        self,
        pipeline: str,
        data: bytes,
        options: dict[str, Any],
        mask: bytes | None,
        region: bytes | None,
        budget: float,
        deadline: float,
    ) -> tuple[Any, Endpoint[aioclient.InferenceServerClient], int]:
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            endpoint, returning = self.pool.pick()
            try:
                remaining = self._remaining(budget, deadline, attempt)
                if returning and not await self._probe(endpoint):
                    raise Unavailable(f"{endpoint.url} is not ready")
                result = await endpoint.client.infer(
                    pipeline, photo_inputs(data, options, mask, region), **self._infer_kwargs(self.headers, remaining)
                )
            except (InferenceServerException, LumaflowError) as raw:
                await asyncio.sleep(self._failed(pipeline, endpoint, raw, attempt, deadline))
                continue
            self._succeeded(pipeline, endpoint, started)
            return result, endpoint, attempt

    async def close(self) -> None:
        for endpoint in self.pool.endpoints:
            client = endpoint.close()
            if client is not None:
                await client.close()

    async def __aenter__(self) -> AsyncLumaflowClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

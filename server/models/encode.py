"""The last step of a photo pipeline: crop the padding away, encode (PNG by default), write INFO."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from lumaflow.ensemble import contract
from lumaflow.server.colour import SourceProfile
from lumaflow.server.imaging import encode_image
from lumaflow.server.models.base import Outputs, RequestModel, bytes_tensor, input_array, single_bytes


class TritonPythonModel(RequestModel):
    def process(self, request: Any) -> Outputs:
        arrived_ns = time.monotonic_ns()
        started = time.perf_counter()
        meta = json.loads(single_bytes(request, contract.META.name))
        pixels = input_array(request, contract.PIXELS.name)[0]
        scale = int(meta["scale"])
        padded = meta["padded"]
        if pixels.shape != (padded["height"] * scale, padded["width"] * scale, 3):
            raise RuntimeError(f"pixels of shape {pixels.shape} do not match {padded} at scale {scale}")
        width, height = meta["input"]["width"] * scale, meta["input"]["height"] * scale
        options = meta["options"]
        source = meta["source"]
        alpha = input_array(request, contract.ALPHA.name)[0]
        profile = None
        if source["icc"]:
            profile = SourceProfile(base64.b64decode(source["icc"]), source["icc_description"], "RGB")
        encoded, fmt, notes = encode_image(
            pixels[:height, :width],
            fmt=options["format"],
            quality=options["quality"],
            alpha=alpha if alpha.size else None,
            grey=source["grey"],
            exif=base64.b64decode(source["exif"]),
            profile=profile,
        )
        if options["color_profile"] == "source" and profile is None:
            notes["color_profile"] = "sRGB (the input has no RGB profile to return to)"
        encode_ms = (time.perf_counter() - started) * 1e3
        # Stages are decode, the neural stages, quality_check, encode; the gap between decode's handoff and
        # encode's arrival is the neural stages' (queueing included) plus the quality check's own time.
        checked_ms = float(meta.get("quality", {}).pop("ms", 0.0))
        neural = meta["stages"][1:-2]
        timings = {
            meta["stages"][0]: round(meta["decode_ms"], 3),
            "+".join(neural): round((arrived_ns - meta["handoff_ns"]) / 1e6 - checked_ms, 3),
            meta["stages"][-2]: round(checked_ms, 3),
            meta["stages"][-1]: round(encode_ms, 3),
        }
        info = {
            "pipeline": meta["pipeline"],
            "input": meta["input"],
            "output": {"width": width, "height": height, "format": fmt, **notes},
            "stages": meta["stages"],
            "timings_ms": timings,
            "models": meta["models"],
            "networks": meta["networks"],
            "analysis": meta["analysis"],
            "version": meta["version"],
        }
        for added in ("quality", "route"):  # from the quality check, and from a router
            if added in meta:
                info[added] = meta[added]
        return {
            contract.ENHANCED.name: bytes_tensor(encoded),
            contract.INFO.name: bytes_tensor(json.dumps(info).encode()),
        }

"""META: what one photo request carries from decode, through a router and the quality check, to encode.

Triton ensembles pass tensors, not objects, so META travels as one JSON string; this dataclass is its
only reader and writer. It holds per-request facts only: the static card of a pipeline (its stages,
models, networks, version) stays in encode's parameters and is read once at start. A router records the
stages it ran in ``route``; encode derives INFO's stages and models from the card and that route.
``version`` changes with any incompatible change of the fields, so a mixed deployment fails loudly.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

META_VERSION = 4  # 2: RouteStep.jpeg_quality; 3: guidance, tiles; 4: one_tile


@dataclass(frozen=True)
class Source:
    """What the input file carried that encode writes back (base64 keeps META JSON)."""

    grey: bool  # encode writes one channel for a grey photo
    exif: str = ""  # the EXIF block, orientation and (unless asked) GPS removed
    icc: str = ""  # the source profile, only when the client asked for it back (OPTIONS color_profile source)
    icc_description: str = ""


@dataclass(frozen=True)
class RouteStep:
    """One stage a router ran: the stage, the model it called, and why (INFO's ``route``)."""

    stage: str
    model: str
    why: str
    noise_level: float | None = None  # the denoiser's σ
    jpeg_quality: float | None = None  # the de-JPEG network's quality

    def described(self) -> dict[str, Any]:
        """The entry INFO's ``route`` lists."""
        entry: dict[str, Any] = {"stage": self.stage, "why": self.why}
        if self.noise_level is not None:
            entry["noise_level"] = round(self.noise_level, 2)
        if self.jpeg_quality is not None:
            entry["jpeg_quality"] = round(self.jpeg_quality, 1)
        return entry


@dataclass(frozen=True)
class OneTile:
    """Decode ran the network on a photo that fits one tile and encoded the result itself (ENCODED carries the
    file): what encode would have said of it, and the time each part took."""

    format: str  # the file's format, as encode names it
    notes: dict[str, Any]  # what encode notes of the output (a profile it could not return)
    network_ms: float
    encode_ms: float


@dataclass(frozen=True)
class Meta:
    """One photo request's facts between decode and encode."""

    pipeline: str
    input: dict[str, Any]  # what INFO reports of the input (size, format, mode, alpha, profile, notes)
    source: Source
    padded_width: int  # the pixels the stages get: what encode checks the result against (times ``scale``)
    padded_height: int
    options: dict[str, Any]  # OPTIONS with the pipeline's defaults and preset filled in
    max_output_megapixels: float  # a router checks the scale it chooses against it
    analysis: dict[str, Any]  # figures INFO reports: the analysis network's reading, noise level, mask, damage...
    decode_ms: float
    # CLOCK_MONOTONIC is system-wide, so encode (another process) measures the time since decode handed over:
    # the stages', queueing included.
    handoff_ns: int
    scale: int  # the output's scale: the pipeline's, or what a router chose
    route: tuple[RouteStep, ...] | None = None  # None: not routed
    quality: dict[str, Any] | None = None  # the quality check's verdict, when it ran
    quality_ms: float = 0.0
    # The user's guidance as decode read it (``strength``, ``region``: mode, coverage, feather); None: the whole
    # result, at full strength.
    guidance: dict[str, Any] | None = None
    # Per tiled stage that ran, [tiles sent to the network, tiles left out] (the tilers add theirs).
    tiles: dict[str, list[int]] = field(default_factory=dict)
    one_tile: OneTile | None = None  # set when decode already ran the network and encoded the result
    version: int = META_VERSION

    @property
    def width(self) -> int:
        return int(self.input["width"])

    @property
    def height(self) -> int:
        return int(self.input["height"])

    def to_bytes(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Meta:
        raw = json.loads(data)
        if raw.get("version") != META_VERSION:
            raise ValueError(f"META version {raw.get('version')!r}, this server reads {META_VERSION}")
        route, one_tile = raw.pop("route"), raw.pop("one_tile")
        return cls(
            **{key: value for key, value in raw.items() if key != "source"},
            source=Source(**raw["source"]),
            route=None if route is None else tuple(RouteStep(**step) for step in route),
            one_tile=None if one_tile is None else OneTile(**one_tile),
        )

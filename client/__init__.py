"""Lumaflow's Python client: typed, deadline-bound gRPC calls to the photo and camera pipelines.

Installable without the server (``pip install lumaflow``): it imports tritonclient, numpy, Pillow
and prometheus-client, never torch or the server's code.
"""

from .aio import AsyncLumaflowClient
from .camera import CameraSession, FrameResult, SessionStats
from .errors import (
    DeadlineExceeded,
    ImageTooLarge,
    InvalidImage,
    InvalidOptions,
    LumaflowError,
    MaskMismatch,
    Overloaded,
    ServerError,
    Unauthenticated,
    Unavailable,
    UnknownPipeline,
)
from .metrics import ClientMetrics
from .policy import RetryPolicy, TLSConfig
from .protocol import PipelineInfo, TemplateInfo, new_progress_id
from .result import EnhanceResult
from .sync import LumaflowClient

__all__ = [
    "AsyncLumaflowClient",
    "CameraSession",
    "ClientMetrics",
    "DeadlineExceeded",
    "EnhanceResult",
    "FrameResult",
    "ImageTooLarge",
    "InvalidImage",
    "InvalidOptions",
    "LumaflowClient",
    "LumaflowError",
    "MaskMismatch",
    "Overloaded",
    "PipelineInfo",
    "RetryPolicy",
    "ServerError",
    "SessionStats",
    "TLSConfig",
    "TemplateInfo",
    "Unauthenticated",
    "Unavailable",
    "UnknownPipeline",
    "new_progress_id",
]

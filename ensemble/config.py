"""Typed mirrors of the parts of Triton's model_config.proto that Lumaflow uses.

Each class names the proto message it mirrors, so a reader can check a field against
https://github.com/triton-inference-server/common/blob/main/protobuf/model_config.proto.
Tensors and their data types are the public contract's (``lumaflow.contract``). They hold no
behaviour: the renderer (``render.py``) turns them into the real protobuf message, so a misspelt
field fails at generation time, not when Triton loads the model.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from lumaflow.contract import DataType, Tensor

__all__ = ["DataType", "Tensor"]  # re-exported: the mirrors below use them


class TimeoutAction(enum.Enum):
    """``ModelQueuePolicy.TimeoutAction``: what happens to a request that waited too long."""

    REJECT = "REJECT"
    DELAY = "DELAY"


class InstanceKind(enum.Enum):
    """``ModelInstanceGroup.Kind``."""

    CPU = "KIND_CPU"
    GPU = "KIND_GPU"
    MODEL = "KIND_MODEL"


@dataclass(frozen=True)
class QueuePolicy:
    """``ModelQueuePolicy``: bounds on a model's queue (0 means unbounded / no timeout).

    ``max_queue_size``: requests beyond it are refused at once (UNAVAILABLE "Exceeds maximum queue
    size", the client's ``Overloaded``). ``default_timeout_us``: how long a request without its own
    timeout may wait in this queue. ``allow_timeout_override``: a request's own timeout (the client's
    deadline, which an ensemble hands to each of its steps) replaces the default. ``timeout_action``:
    REJECT answers a request that waited too long (UNAVAILABLE "Request timeout expired"); DELAY
    only moves it behind the others.
    """

    max_queue_size: int = 0
    default_timeout_us: int = 0
    allow_timeout_override: bool = True
    timeout_action: TimeoutAction = TimeoutAction.REJECT


@dataclass(frozen=True)
class DynamicBatching:
    """``ModelDynamicBatching``: how long the batcher may hold a request to form a batch."""

    max_queue_delay_us: int = 0
    preferred_batch_sizes: tuple[int, ...] = ()
    preserve_ordering: bool = False
    queue_policy: QueuePolicy | None = None


@dataclass(frozen=True)
class RateLimitResource:
    """``ModelRateLimiter.Resource``: ``count`` copies of ``name`` an instance holds while it executes.

    ``global_resource`` (the proto's ``global``) makes one pool for the whole server rather than one
    per device. The server's pool size is ``--rate-limit-resource`` (``lumaflow.server.argv.server_argv``).
    """

    name: str
    count: int = 1
    global_resource: bool = True


@dataclass(frozen=True)
class RateLimiter:
    """``ModelRateLimiter``: what an instance needs before Triton's rate limiter lets it execute.

    Used only when the server runs with ``--rate-limit=execution_count``. ``priority`` orders the
    instances that wait for the same resources: 1 is the highest, and an instance of priority 2
    gets half the scheduling chances of one of priority 1.
    """

    resources: tuple[RateLimitResource, ...] = ()
    priority: int = 0


@dataclass(frozen=True)
class InstanceGroup:
    """``ModelInstanceGroup``: how many copies of a model run, and where, and their ``rate_limiter``."""

    count: int = 1
    kind: InstanceKind = InstanceKind.CPU
    rate_limiter: RateLimiter | None = None


@dataclass(frozen=True)
class EnsembleStep:
    """``ModelEnsembling.Step``: one model call and how its tensors connect to the ensemble's.

    ``input_map`` maps the step model's input name to an ensemble tensor name;
    ``output_map`` maps the step model's output name to an ensemble tensor name.
    """

    model_name: str
    input_map: dict[str, str]
    output_map: dict[str, str]
    model_version: int = -1


@dataclass(frozen=True)
class WarmupInput:
    """``ModelWarmup.Input``: one input of a warmup request, random or read from the model's ``warmup/`` folder."""

    dtype: DataType
    dims: tuple[int, ...]
    random_data: bool = False  # else zeros: for indices (TEMPLATE), where random values are out of range
    input_data_file: str = ""  # a file in <model>/warmup/; TYPE_STRING items are 4-byte length + bytes


@dataclass(frozen=True)
class Warmup:
    """``ModelWarmup``: a request Triton runs before the model is marked ready."""

    name: str
    inputs: dict[str, WarmupInput]
    batch_size: int = 1


@dataclass(frozen=True)
class ModelConfig:
    """``ModelConfig``: everything a ``config.pbtxt`` says about one model."""

    name: str
    max_batch_size: int
    inputs: tuple[Tensor, ...]
    outputs: tuple[Tensor, ...]
    backend: str = ""
    platform: str = ""
    default_model_filename: str = ""
    instance_groups: tuple[InstanceGroup, ...] = ()
    dynamic_batching: DynamicBatching | None = None
    ensemble_steps: tuple[EnsembleStep, ...] = ()
    parameters: dict[str, str] = field(default_factory=dict)
    warmups: tuple[Warmup, ...] = ()
    response_cache: bool = False  # used only when the server runs with a cache (--cache-config)

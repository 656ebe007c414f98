"""Typed mirrors of the parts of Triton's model_config.proto that Lumaflow uses.

Each class names the proto message it mirrors, so a reader can check a field against
https://github.com/triton-inference-server/common/blob/main/protobuf/model_config.proto.
They hold no behaviour: the renderer (``render.py``) turns them into the real protobuf
message, so a misspelt field fails at generation time, not when Triton loads the model.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class DataType(enum.Enum):
    """``DataType``: the element types our tensors use, by their proto names."""

    UINT8 = "TYPE_UINT8"
    INT32 = "TYPE_INT32"
    INT64 = "TYPE_INT64"
    FP16 = "TYPE_FP16"
    FP32 = "TYPE_FP32"
    STRING = "TYPE_STRING"


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
class Tensor:
    """``ModelInput`` / ``ModelOutput``: one named tensor, dims without the batch dimension."""

    name: str
    dtype: DataType
    dims: tuple[int, ...]
    doc: str = ""
    optional: bool = False


@dataclass(frozen=True)
class QueuePolicy:
    """``ModelQueuePolicy``: bounds on a model's queue (0 means unbounded / no timeout)."""

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
class InstanceGroup:
    """``ModelInstanceGroup``: how many copies of a model run, and where."""

    count: int = 1
    kind: InstanceKind = InstanceKind.CPU


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
    random_data: bool = False
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

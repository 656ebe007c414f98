"""The contract's leaves: the client's reason codes are the server's, every model reads back what was rendered."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from lumaflow import contract
from lumaflow.client import errors
from lumaflow.ensemble.generate import model_configs
from lumaflow.params import (
    CPU_NICE_PARAMETER,
    DecodeParams,
    EncodeParams,
    ModelParams,
    QualityCheckParams,
    RouterParams,
    SizeBuckets,
    StageParams,
    TilerParams,
    cpu_nice,
)
from lumaflow.runtime.meta import Meta, OneTile, RouteStep, Source

pytestmark = pytest.mark.unit


def test_the_clients_reason_codes_are_the_servers() -> None:
    """The client keeps its own table (it imports no server code); this ties it to the contract."""
    assert set(errors.REASONS) == set(contract.REASON_CODES)
    assert all(issubclass(kind, errors.LumaflowError) for kind in errors.REASONS.values())


def _kind(model: str, implementation: str) -> type[ModelParams] | None:
    kinds: dict[str, type[ModelParams]] = {
        "lumaflow.server.models.stage": StageParams,
        "lumaflow.server.models.tiler": TilerParams,
        "lumaflow.server.models.decode": DecodeParams,
        "lumaflow.server.models.photo_route": RouterParams,
        "lumaflow.server.models.quality_check": QualityCheckParams,
        "lumaflow.server.models.encode": EncodeParams,
    }
    return kinds.get(implementation)


PARAMETERLESS = {"lumaflow.server.models.progress"}  # reads the machine's progress board: nothing to configure


def test_every_python_model_reads_back_the_parameters_rendered_for_it() -> None:
    """What the renderer writes into config.pbtxt, the model's parameter class reads, and writes again unchanged;
    ``cpu_nice``, which any python model may carry, is read by the models' base class (``lumaflow.params.cpu_nice``)."""
    from lumaflow.ensemble.generate import implementation

    checked = 0
    for config in model_configs():
        if config.backend != "python":
            continue
        own = {key: value for key, value in config.parameters.items() if key != CPU_NICE_PARAMETER}
        assert cpu_nice({"parameters": {k: {"string_value": v} for k, v in config.parameters.items()}}) in (0, 10)
        if implementation(config.name) in PARAMETERLESS:
            assert own == {}, config.name
            continue
        kind = _kind(config.name, implementation(config.name))
        assert kind is not None, config.name
        params = kind.from_parameters(own)
        assert params.to_parameters() == own, config.name
        checked += 1
    assert checked > 40


def test_a_missing_or_unreadable_parameter_names_itself() -> None:
    with pytest.raises(KeyError, match="quality_model"):
        QualityCheckParams.from_parameters({})
    with pytest.raises(ValueError, match=r"TilerParams\.tile"):
        TilerParams.from_parameters(
            {"stage": "s", "scale": "2", "tile": "big", "context": "8", "max_tiles_in_flight": "8"}
        )
    with pytest.raises(ValueError, match="shrink_arena"):
        StageParams.from_parameters({"onnx_file": "m.onnx", "max_batch_pixels": "10", "shrink_arena": "yes"})


def test_nested_parameters_come_back_typed() -> None:
    params = DecodeParams(
        pipeline="p",
        scale=2,
        max_input_megapixels=16.0,
        max_input_megabytes=64.0,
        max_output_megapixels=64.0,
        bucket_max_side=256,
        analysis_model="analysis",
        size_buckets=SizeBuckets((64, 128), 64),
        presets={"x": {"scale": 2}},
        templates=("a", "b"),
    )
    again = DecodeParams.from_parameters(params.to_parameters())
    assert again == params and isinstance(again.size_buckets, SizeBuckets) and again.templates == ("a", "b")
    assert json.loads(params.to_parameters()["size_buckets"]) == {"ladder": [64, 128], "step_above": 64}


def test_meta_round_trips_and_refuses_another_version() -> None:
    meta = Meta(
        pipeline="photo_enhance",
        input={"width": 3, "height": 2},
        source=Source(grey=False, exif="", icc="", icc_description=""),
        padded_width=3,
        padded_height=2,
        options={"scale": 1},
        max_output_megapixels=64.0,
        analysis={},
        decode_ms=1.5,
        handoff_ns=7,
        scale=1,
        route=(RouteStep("ffdnet", "ffdnet_tiles", "because", 4.5),),
    )
    assert Meta.from_bytes(meta.to_bytes()) == meta
    finished = replace(meta, one_tile=OneTile("png", {"color_profile": "sRGB"}, 18.5, 3.25))
    assert Meta.from_bytes(finished.to_bytes()) == finished
    raw = json.loads(meta.to_bytes())
    raw["version"] = 0
    with pytest.raises(ValueError, match="META version"):
        Meta.from_bytes(json.dumps(raw).encode())

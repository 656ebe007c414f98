"""Explicit architecture registry (spandrel style): a state dict in, a ready model descriptor out.

Each architecture says how to recognise its own state dict and how to rebuild itself from it, so
weight files stay plain state dicts with no pickled classes or side-car config to drift.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from types import MappingProxyType

import torch
from torch import nn

from lumaflow.build.arch.assessor import Assessor, PhotoAssessor
from lumaflow.build.arch.colorize import Colorizer, colorizer_hyperparameters
from lumaflow.build.arch.damage import DamageNet, damage_hyperparameters
from lumaflow.build.arch.espcn import ESPCN
from lumaflow.build.arch.ffdnet import FFDNet, is_kair_state_dict, state_dict_from_kair
from lumaflow.build.arch.inpaint import DILATIONS, GatedInpainter
from lumaflow.build.arch.lut import LookNet, looknet_hyperparameters
from lumaflow.build.arch.residual import CONTEXT_PLANES, RANGE_PLANES, ResidualRestorer
from lumaflow.build.arch.rrdbnet import RRDBNet
from lumaflow.build.arch.srmd import DEGRADATION_VECTOR, SRMD
from lumaflow.build.arch.waifu2x import UpConv7

StateDict = Mapping[str, torch.Tensor]


@dataclass(frozen=True)
class ModelDescriptor:
    """A loaded model (eval mode, weights in) and what a caller must know to feed it."""

    architecture: str
    model: nn.Module
    scale: int
    in_channels: int
    out_channels: int
    size_multiple: int  # input H and W must be multiples of this
    supports_half: bool
    hyperparameters: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ArchSupport:
    """How to recognise (`detect`) and rebuild (`load`) one architecture from its state dict."""

    name: str
    detect: Callable[[StateDict], bool]
    load: Callable[[StateDict], ModelDescriptor]


# --- ESPCN -------------------------------------------------------------------------------------

_ESPCN_BODY = re.compile(r"body\.(\d+)\.weight")


def _loaded(
    architecture: str,
    model: nn.Module,
    state: StateDict,
    hyperparameters: Mapping[str, int],
    *,
    scale: int,
    size_multiple: int = 1,
) -> ModelDescriptor:
    """Load ``state`` into ``model`` strictly, in eval mode, and describe it (every loader ends here)."""
    model.load_state_dict(state, strict=True)
    model.eval()
    return ModelDescriptor(
        architecture=architecture,
        model=model,
        scale=scale,
        in_channels=hyperparameters["in_channels"],
        out_channels=hyperparameters["out_channels"],
        size_multiple=size_multiple,
        supports_half=True,
        hyperparameters=MappingProxyType(dict(hyperparameters)),
    )


def _espcn_num_body(state: StateDict) -> int:
    return sum(1 for k in state if _ESPCN_BODY.fullmatch(k))


def _espcn_expected_keys(num_body: int, leaky: bool) -> set[str]:
    keys = {"head.weight", "head.bias", "tail.weight", "tail.bias"}
    for i in range(num_body):
        keys |= {f"body.{i}.weight", f"body.{i}.bias"}
    if not leaky:  # PReLU slopes
        keys |= {"act_head.weight", *(f"act_body.{i}.weight" for i in range(num_body))}
    return keys


def _espcn_hyperparameters(state: StateDict) -> dict[str, int]:
    head, tail = state["head.weight"], state["tail.weight"]
    channels = int(head.shape[1])
    scale = math.isqrt(int(tail.shape[0]) // channels)
    return {
        "scale": scale,
        "in_channels": channels,
        "out_channels": channels,
        "features": int(head.shape[0]),
        "mid_features": int(tail.shape[1]),
        "num_body": _espcn_num_body(state),
        "leaky": int("act_head.weight" not in state),
    }


def _detect_espcn(state: StateDict) -> bool:
    num_body = _espcn_num_body(state)
    if num_body < 1 or set(state) != _espcn_expected_keys(num_body, leaky="act_head.weight" not in state):
        return False
    head, tail = state["head.weight"], state["tail.weight"]
    if head.dim() != 4 or tuple(head.shape[2:]) != (5, 5) or tail.dim() != 4:
        return False
    channels, out = int(head.shape[1]), int(tail.shape[0])
    scale = math.isqrt(out // channels) if out % channels == 0 else 0
    return scale >= 1 and channels * scale * scale == out


def _load_espcn(state: StateDict) -> ModelDescriptor:
    hp = _espcn_hyperparameters(state)
    model = ESPCN(**{**hp, "leaky": bool(hp["leaky"])})
    return _loaded("ESPCN", model, state, hp, scale=hp["scale"])


# --- waifu2x upconv_7 -----------------------------------------------------------------------------

_UPCONV7_CONVS = tuple(range(0, 12, 2))  # net.0 ... net.10; net.12 is the ConvTranspose2d
_UPCONV7_DECONV = 12


def _upconv7_expected_keys() -> set[str]:
    return {f"net.{i}.{p}" for i in (*_UPCONV7_CONVS, _UPCONV7_DECONV) for p in ("weight", "bias")}


def _detect_upconv7(state: StateDict) -> bool:
    if set(state) != _upconv7_expected_keys():
        return False
    previous = None
    for i in _UPCONV7_CONVS:
        weight, bias = state[f"net.{i}.weight"], state[f"net.{i}.bias"]
        if weight.dim() != 4 or tuple(weight.shape[2:]) != (3, 3) or tuple(bias.shape) != (weight.shape[0],):
            return False
        if previous is not None and int(weight.shape[1]) != previous:
            return False
        previous = int(weight.shape[0])
    deconv, bias = state[f"net.{_UPCONV7_DECONV}.weight"], state[f"net.{_UPCONV7_DECONV}.bias"]
    # ConvTranspose2d weights are [in, out, kh, kw].
    return (
        deconv.dim() == 4
        and tuple(deconv.shape[2:]) == (4, 4)
        and int(deconv.shape[0]) == previous
        and tuple(bias.shape) == (deconv.shape[1],)
    )


def _upconv7_hyperparameters(state: StateDict) -> dict[str, int]:
    hp = {
        "scale": 2,
        "in_channels": int(state["net.0.weight"].shape[1]),
        "out_channels": int(state[f"net.{_UPCONV7_DECONV}.weight"].shape[1]),
    }
    for n, i in enumerate(_UPCONV7_CONVS, start=1):
        hp[f"width{n}"] = int(state[f"net.{i}.weight"].shape[0])
    return hp


def _load_upconv7(state: StateDict) -> ModelDescriptor:
    hp = _upconv7_hyperparameters(state)
    widths = tuple(hp[f"width{n}"] for n in range(1, len(_UPCONV7_CONVS) + 1))
    model = UpConv7(in_channels=hp["in_channels"], out_channels=hp["out_channels"], widths=widths)
    return _loaded("UpConv7", model, state, hp, scale=2)


# --- FFDNet (denoiser) ----------------------------------------------------------------------------

_FFDNET_BODY = re.compile(r"body\.(\d+)\.weight")


def _ffdnet_state(state: StateDict) -> StateDict:
    """Our key layout, whether `state` is ours or KAIR's (``model.{2i}``; see `state_dict_from_kair`)."""
    return state_dict_from_kair(state) if is_kair_state_dict(state) else state


def _ffdnet_hyperparameters(state: StateDict) -> dict[str, int]:
    head, tail = state["head.weight"], state["tail.weight"]
    return {
        "scale": 1,
        "in_channels": (int(head.shape[1]) - 1) // 4,
        "out_channels": int(tail.shape[0]) // 4,
        "features": int(head.shape[0]),
        "num_convs": 2 + sum(1 for k in state if _FFDNET_BODY.fullmatch(k)),
    }


def _detect_ffdnet(state: StateDict) -> bool:
    state = _ffdnet_state(state)
    if "head.weight" not in state or "tail.weight" not in state:
        return False
    num_body = sum(1 for k in state if _FFDNET_BODY.fullmatch(k))
    expected = {
        f"{name}.{p}" for name in ("head", "tail", *(f"body.{i}" for i in range(num_body))) for p in ("weight", "bias")
    }
    if set(state) != expected:
        return False
    head, tail = state["head.weight"], state["tail.weight"]
    if head.dim() != 4 or tail.dim() != 4:
        return False
    # The head sees the unshuffled image (4 x in channels) plus the noise-level map; the tail feeds PixelShuffle(2).
    in_planes, out_planes = int(head.shape[1]) - 1, int(tail.shape[0])
    if in_planes < 4 or in_planes % 4 or out_planes < 4 or out_planes % 4:
        return False
    previous = int(head.shape[0])
    for name in (*(f"body.{i}" for i in range(num_body)), "tail"):
        weight, bias = state[f"{name}.weight"], state[f"{name}.bias"]
        if weight.dim() != 4 or int(weight.shape[1]) != previous or tuple(bias.shape) != (weight.shape[0],):
            return False
        previous = int(weight.shape[0])
    return all(tuple(state[k].shape[2:]) == (3, 3) for k in expected if k.endswith(".weight"))


def _load_ffdnet(state: StateDict) -> ModelDescriptor:
    state = _ffdnet_state(state)
    hp = _ffdnet_hyperparameters(state)
    model = FFDNet(**{k: v for k, v in hp.items() if k != "scale"})
    # size_multiple 1: odd sizes are padded (replicate) and cropped back inside FFDNet.forward
    return _loaded("FFDNet", model, state, hp, scale=1)


# --- RRDBNet (ESRGAN / Real-ESRGAN) ---------------------------------------------------------------------

_RRDB_BLOCK = re.compile(r"body\.(\d+)\.rdb1\.conv1\.weight")
_RRDB_TOP = ("conv_first", "conv_body", "conv_up1", "conv_up2", "conv_hr", "conv_last")


def _rrdbnet_num_block(state: StateDict) -> int:
    return sum(1 for k in state if _RRDB_BLOCK.fullmatch(k))


def _rrdbnet_expected_keys(num_block: int) -> set[str]:
    names = [*_RRDB_TOP]
    names += [f"body.{i}.rdb{j}.conv{k}" for i in range(num_block) for j in (1, 2, 3) for k in range(1, 6)]
    return {f"{name}.{p}" for name in names for p in ("weight", "bias")}


def _rrdbnet_hyperparameters(state: StateDict) -> dict[str, int] | None:
    """Read the hyper-parameters back from the shapes; None if they are not a consistent RRDBNet."""
    num_block = _rrdbnet_num_block(state)
    if num_block < 1 or set(state) != _rrdbnet_expected_keys(num_block):
        return None
    if any(state[k].dim() != 4 or tuple(state[k].shape[2:]) != (3, 3) for k in state if k.endswith(".weight")):
        return None
    first, last = state["conv_first.weight"], state["conv_last.weight"]
    out_channels, num_feat = int(last.shape[0]), int(first.shape[0])
    num_grow_ch = int(state["body.0.rdb1.conv1.weight"].shape[0])
    planes = int(first.shape[1])  # in_channels * unshuffle², taking in_channels == out_channels (as BasicSR)
    unshuffle = math.isqrt(planes // out_channels) if planes % out_channels == 0 else 0
    if unshuffle not in (1, 2, 4) or out_channels * unshuffle**2 != planes:
        return None
    hp = {
        "scale": 4 // unshuffle,
        "in_channels": out_channels,
        "out_channels": out_channels,
        "num_feat": num_feat,
        "num_block": num_block,
        "num_grow_ch": num_grow_ch,
    }
    expected = RRDBNet(**{**hp, "num_block": 1}).state_dict()  # shapes of one block and the top convs
    for key, value in state.items():
        template = expected[re.sub(r"^body\.\d+\.", "body.0.", key)]
        if tuple(value.shape) != tuple(template.shape):
            return None
    return hp


def _detect_rrdbnet(state: StateDict) -> bool:
    return "conv_first.weight" in state and _rrdbnet_hyperparameters(state) is not None


def _load_rrdbnet(state: StateDict) -> ModelDescriptor:
    hp = _rrdbnet_hyperparameters(state)
    if hp is None:
        raise ValueError("not an RRDBNet state dict")
    model = RRDBNet(**hp)
    # size_multiple: ×2 / ×1 pixel-unshuffle their input by 2 / 4
    return _loaded("RRDBNet", model, state, hp, scale=hp["scale"], size_multiple=4 // hp["scale"])


# --- SRMD -------------------------------------------------------------------------------------------

_SRMD_CONV = re.compile(r"convs\.(\d+)\.weight")


def _srmd_hyperparameters(state: StateDict) -> dict[str, int] | None:
    num_convs = sum(1 for k in state if _SRMD_CONV.fullmatch(k))
    expected = {f"convs.{i}.{p}" for i in range(num_convs) for p in ("weight", "bias")}
    if num_convs < 2 or set(state) != expected:
        return None
    weights = [state[f"convs.{i}.weight"] for i in range(num_convs)]
    if any(w.dim() != 4 or tuple(w.shape[2:]) != (3, 3) for w in weights):
        return None
    planes, features, out_planes = int(weights[0].shape[1]), int(weights[0].shape[0]), int(weights[-1].shape[0])
    for channels in (3, 1):  # RGB, or grey
        map_planes = planes - channels
        scale = math.isqrt(out_planes // channels) if out_planes % channels == 0 else 0
        if map_planes in (len(DEGRADATION_VECTOR), len(DEGRADATION_VECTOR) + 1) and channels * scale**2 == out_planes:
            break
    else:
        return None
    widths = [planes, *([features] * (num_convs - 1)), out_planes]
    for i, w in enumerate(weights):
        out_width, in_width = widths[i + 1], widths[i]
        if tuple(w.shape[:2]) != (out_width, in_width) or tuple(state[f"convs.{i}.bias"].shape) != (out_width,):
            return None
    return {
        "scale": scale,
        "in_channels": channels,
        "out_channels": channels,
        "features": features,
        "num_convs": num_convs,
        "noise_channel": int(map_planes > len(DEGRADATION_VECTOR)),
    }


def _detect_srmd(state: StateDict) -> bool:
    return _srmd_hyperparameters(state) is not None


def _load_srmd(state: StateDict) -> ModelDescriptor:
    hp = _srmd_hyperparameters(state)
    if hp is None:
        raise ValueError("not an SRMD state dict")
    model = SRMD(
        scale=hp["scale"],
        noise_channel=bool(hp["noise_channel"]),
        in_channels=hp["in_channels"],
        features=hp["features"],
        num_convs=hp["num_convs"],
    )
    return _loaded("SRMD", model, state, {**hp, "noise_level": model.noise_level}, scale=hp["scale"])


# --- ResidualRestorer (de-JPEG, refinement, camera x1) ----------------------------------------------

_RESIDUAL_BLOCK = re.compile(r"blocks\.(\d+)\.weight")


def _residual_hyperparameters(state: StateDict) -> dict[str, int] | None:
    num_blocks = sum(1 for k in state if _RESIDUAL_BLOCK.fullmatch(k))
    curves = "curve_out.weight" in state
    names = ("entry", "exit", *(f"blocks.{i}" for i in range(num_blocks)), *(("curve_hidden", "curve_out") * curves))
    if set(state) != {f"{name}.{p}" for name in names for p in ("weight", "bias")}:
        return None
    weights = [state[f"{name}.weight"] for name in ("entry", *(f"blocks.{i}" for i in range(num_blocks)), "exit")]
    if any(w.dim() != 4 or tuple(w.shape[2:]) != (3, 3) for w in weights):
        return None
    entry_planes, features, planes = int(weights[0].shape[1]), int(weights[0].shape[0]), int(weights[-1].shape[0])
    factor = math.isqrt(planes // 3) if planes % 3 == 0 else 0
    channels = 3
    if factor < 1 or 3 * factor * factor != planes:  # grey: one channel
        factor, channels = math.isqrt(planes), 1
        if factor * factor != planes:
            return None
    # The statistics' width (6, or 12 with the range) shows in the entry conv and in the curve MLP.
    contexts = {CONTEXT_PLANES, CONTEXT_PLANES + RANGE_PLANES}
    widths_seen = set()
    if entry_planes != planes:
        if entry_planes - planes not in contexts:
            return None
        widths_seen.add(entry_planes - planes)
    global_context = entry_planes != planes
    widths = [entry_planes, *([features] * (num_blocks + 1)), planes]
    if any(tuple(w.shape[:2]) != (widths[i + 1], widths[i]) for i, w in enumerate(weights)):
        return None
    curve_steps = 0
    if curves:
        hidden, out = state["curve_hidden.weight"], state["curve_out.weight"]
        if hidden.dim() != 2 or out.dim() != 2 or int(hidden.shape[1]) not in contexts:
            return None
        if int(out.shape[1]) != int(hidden.shape[0]) or int(out.shape[0]) % channels:
            return None
        widths_seen.add(int(hidden.shape[1]))
        curve_steps = int(out.shape[0]) // channels
    if len(widths_seen) > 1:
        return None
    return {
        "scale": 1,
        "in_channels": channels,
        "out_channels": channels,
        "features": features,
        "num_blocks": num_blocks,
        "global_context": int(global_context),
        "curve_steps": curve_steps,
        "factor": factor,
        "range_statistics": int(widths_seen == {CONTEXT_PLANES + RANGE_PLANES}),
    }


def _detect_residual(state: StateDict) -> bool:
    return "entry.weight" in state and _residual_hyperparameters(state) is not None


def _load_residual(state: StateDict) -> ModelDescriptor:
    hp = _residual_hyperparameters(state)
    if hp is None:
        raise ValueError("not a ResidualRestorer state dict")
    model = ResidualRestorer(
        channels=hp["in_channels"],
        features=hp["features"],
        num_blocks=hp["num_blocks"],
        global_context=bool(hp["global_context"]),
        curve_steps=hp["curve_steps"],
        factor=hp["factor"],
        range_statistics=bool(hp["range_statistics"]),
    )
    return _loaded("ResidualRestorer", model, state, hp, scale=1)


# --- Assessor (analysis, quality score) ------------------------------------------------------------

_ASSESSOR_DOWN = re.compile(r"down\.(\d+)\.weight")


def _assessor_widths(state: StateDict, prefix: str = "") -> tuple[int, ...]:
    """An assessor's convolution widths (stem, then each stride-2 stage), read under ``prefix``; () if none."""
    stages = sum(1 for k in state if k.startswith(prefix) and _ASSESSOR_DOWN.fullmatch(k.removeprefix(prefix)))
    if stages < 1 or f"{prefix}stem.0.weight" not in state:
        return ()
    names = ("stem.0", *(f"down.{i}" for i in range(stages)))
    return tuple(int(state[f"{prefix}{name}.weight"].shape[0]) for name in names)


def _checked_assessor(state: StateDict, model: nn.Module, widths: tuple[int, ...]) -> dict[str, int] | None:
    """The hyper-parameters of ``state`` when it has exactly ``model``'s keys and shapes, else None."""
    expected = model.state_dict()
    if set(state) != set(expected) or any(tuple(v.shape) != tuple(expected[k].shape) for k, v in state.items()):
        return None
    hp = {"scale": 1, "in_channels": 3, "out_channels": int(state["out.weight"].shape[0]), "stages": len(widths) - 1}
    hp.update({f"width{i}": w for i, w in enumerate(widths)})
    return hp


# The crop network (analysis), and the photo network (quality score) that keeps the crop network's
# convolutions under ``crops.`` and adds its own head: one reader for both, by class and key prefix.
AssessorKind = type[Assessor] | type[PhotoAssessor]
ASSESSOR_PREFIX: dict[AssessorKind, str] = {Assessor: "", PhotoAssessor: "crops."}


def _assessor_hyperparameters(state: StateDict, kind: AssessorKind) -> dict[str, int] | None:
    widths = _assessor_widths(state, ASSESSOR_PREFIX[kind])
    if not widths or "out.weight" not in state:
        return None
    return _checked_assessor(state, kind(outputs=int(state["out.weight"].shape[0]), widths=widths), widths)


def _detect_assessor(state: StateDict, kind: AssessorKind) -> bool:
    return f"{ASSESSOR_PREFIX[kind]}stem.0.weight" in state and _assessor_hyperparameters(state, kind) is not None


def _load_assessor(state: StateDict, kind: AssessorKind) -> ModelDescriptor:
    hp = _assessor_hyperparameters(state, kind)
    if hp is None:
        raise ValueError(f"not a {kind.__name__} state dict")
    widths = tuple(hp[f"width{i}"] for i in range(hp["stages"] + 1))
    return _loaded(kind.__name__, kind(outputs=hp["out_channels"], widths=widths), state, hp, scale=1)


# --- GatedInpainter (object removal) ----------------------------------------------------------------


def _inpainter_hyperparameters(state: StateDict) -> dict[str, int] | None:
    if "enc0.conv.weight" not in state or "enc1.conv.weight" not in state or "enc2.conv.weight" not in state:
        return None
    widths = tuple(int(state[f"{name}.conv.weight"].shape[0]) // 2 for name in ("enc0", "enc1", "enc2"))
    expected = GatedInpainter(widths=widths).state_dict()  # type: ignore[arg-type]
    if set(state) != set(expected) or any(tuple(v.shape) != tuple(expected[k].shape) for k, v in state.items()):
        return None
    return {
        "scale": 1,
        "in_channels": 3,
        "out_channels": 3,
        "width0": widths[0],
        "width1": widths[1],
        "width2": widths[2],
    }


def _detect_inpainter(state: StateDict) -> bool:
    return _inpainter_hyperparameters(state) is not None


def _load_inpainter(state: StateDict) -> ModelDescriptor:
    hp = _inpainter_hyperparameters(state)
    if hp is None:
        raise ValueError("not a GatedInpainter state dict")
    model = GatedInpainter(widths=(hp["width0"], hp["width1"], hp["width2"]))
    return _loaded("GatedInpainter", model, state, {**hp, "dilations": len(DILATIONS)}, scale=1)


# --- Colorizer (grey / sepia photos) ---------------------------------------------------------------


def _detect_colorizer(state: StateDict) -> bool:
    return colorizer_hyperparameters(state) is not None


def _load_colorizer(state: StateDict) -> ModelDescriptor:
    hp = colorizer_hyperparameters(state)
    if hp is None:
        raise ValueError("not a Colorizer state dict")
    model = Colorizer(widths=(hp["width0"], hp["width1"], hp["width2"]))
    return _loaded("Colorizer", model, state, hp, scale=1)


# --- DamageNet (old-photo damage masks) ------------------------------------------------------------


def _detect_damage(state: StateDict) -> bool:
    return damage_hyperparameters(state) is not None


def _load_damage(state: StateDict) -> ModelDescriptor:
    hp = damage_hyperparameters(state)
    if hp is None:
        raise ValueError("not a DamageNet state dict")
    model = DamageNet(widths=(hp["width0"], hp["width1"], hp["width2"]))
    return _loaded("DamageNet", model, state, hp, scale=1, size_multiple=1)


# --- LookNet (stylize looks: image-adaptive 3D LUTs) --------------------------------------------------


def _detect_looknet(state: StateDict) -> bool:
    return looknet_hyperparameters(state) is not None


def _load_looknet(state: StateDict) -> ModelDescriptor:
    hp = looknet_hyperparameters(state)
    if hp is None:
        raise ValueError("not a LookNet state dict")
    model = LookNet(templates=hp["templates"], basis=hp["basis"], size=hp["size"], width=hp["width"])
    return _loaded("LookNet", model, state, hp, scale=1)


# --- registry ----------------------------------------------------------------------------------


def _build_registry(entries: Iterable[ArchSupport]) -> Mapping[str, ArchSupport]:
    registry: dict[str, ArchSupport] = {}
    for entry in entries:
        if entry.name in registry:
            raise ValueError(f"duplicate architecture name in registry: {entry.name!r}")
        registry[entry.name] = entry
    return MappingProxyType(registry)


# Order matters: the first architecture whose `detect` accepts a state dict wins.
REGISTRY: Mapping[str, ArchSupport] = _build_registry(
    [
        ArchSupport(name="ESPCN", detect=_detect_espcn, load=_load_espcn),
        ArchSupport(name="UpConv7", detect=_detect_upconv7, load=_load_upconv7),
        ArchSupport(name="FFDNet", detect=_detect_ffdnet, load=_load_ffdnet),
        ArchSupport(name="RRDBNet", detect=_detect_rrdbnet, load=_load_rrdbnet),
        ArchSupport(name="SRMD", detect=_detect_srmd, load=_load_srmd),
        ArchSupport(name="ResidualRestorer", detect=_detect_residual, load=_load_residual),
        *(
            ArchSupport(
                name=kind.__name__, detect=partial(_detect_assessor, kind=kind), load=partial(_load_assessor, kind=kind)
            )
            for kind in (Assessor, PhotoAssessor)
        ),
        ArchSupport(name="GatedInpainter", detect=_detect_inpainter, load=_load_inpainter),
        ArchSupport(name="Colorizer", detect=_detect_colorizer, load=_load_colorizer),
        ArchSupport(name="LookNet", detect=_detect_looknet, load=_load_looknet),
        ArchSupport(name="DamageNet", detect=_detect_damage, load=_load_damage),
    ]
)


def load_state_dict(state_dict: StateDict) -> ModelDescriptor:
    """Find the architecture that `state_dict` belongs to and return it loaded, in eval mode."""
    for support in REGISTRY.values():
        if support.detect(state_dict):
            return support.load(state_dict)
    keys = sorted(state_dict)
    shown = ", ".join(keys[:12]) + (f", ... ({len(keys)} keys)" if len(keys) > 12 else "")
    raise ValueError(f"unknown architecture: no entry of {list(REGISTRY)} matches a state dict with keys [{shown}]")


def load_file(path: str) -> ModelDescriptor:
    """`load_state_dict` on a `torch.save`d state dict, read without unpickling arbitrary objects."""
    return load_state_dict(torch.load(path, map_location="cpu", weights_only=True))

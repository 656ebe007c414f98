"""The registry's readings of the upscalers, denoisers and restorers: ESPCN, UpConv7, FFDNet, RRDBNet, SRMD, SPAN
and ResidualRestorer.

Each reads the hyper-parameters back from the state dict's keys and shapes (None: not this architecture), so
weight files stay plain state dicts with no pickled classes or side-car config to drift.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

from torch import nn

from lumaflow.build.arch.dejpeg import DejpegRestorer
from lumaflow.build.arch.espcn import ESPCN
from lumaflow.build.arch.ffdnet import FFDNet, is_kair_state_dict, state_dict_from_kair
from lumaflow.build.arch.residual import CONTEXT_PLANES, RANGE_PLANES, ResidualRestorer
from lumaflow.build.arch.rrdbnet import RRDBNet
from lumaflow.build.arch.span import NUM_BLOCKS as SPAN_BLOCKS
from lumaflow.build.arch.span import SPAN
from lumaflow.build.arch.srmd import DEGRADATION_VECTOR, SRMD
from lumaflow.build.arch.waifu2x import UpConv7
from lumaflow.build.arch_support import Hyperparameters, ShapeReading, StateDict


def _count(pattern: re.Pattern[str], state: StateDict) -> int:
    """How many keys of ``state`` match ``pattern`` whole (a layer count)."""
    return sum(1 for k in state if pattern.fullmatch(k))


def _keys(names: Iterable[str]) -> set[str]:
    """The weight and bias keys of the layers ``names``."""
    return {f"{name}.{p}" for name in names for p in ("weight", "bias")}


_BODY = re.compile(r"body\.(\d+)\.weight")  # ESPCN's and FFDNet's body convolutions


# --- ESPCN -------------------------------------------------------------------------------------


def _espcn_expected_keys(num_body: int, leaky: bool) -> set[str]:
    keys = _keys(("head", "tail", *(f"body.{i}" for i in range(num_body))))
    if not leaky:  # PReLU slopes
        keys |= {"act_head.weight", *(f"act_body.{i}.weight" for i in range(num_body))}
    return keys


def _is_espcn(state: StateDict) -> bool:
    num_body = _count(_BODY, state)
    if num_body < 1 or set(state) != _espcn_expected_keys(num_body, leaky="act_head.weight" not in state):
        return False
    head, tail = state["head.weight"], state["tail.weight"]
    if head.dim() != 4 or tuple(head.shape[2:]) != (5, 5) or tail.dim() != 4:
        return False
    channels, out = int(head.shape[1]), int(tail.shape[0])
    scale = math.isqrt(out // channels) if out % channels == 0 else 0
    return scale >= 1 and channels * scale * scale == out


def _espcn_hyperparameters(state: StateDict) -> Hyperparameters | None:
    if not _is_espcn(state):
        return None
    head, tail = state["head.weight"], state["tail.weight"]
    channels = int(head.shape[1])
    scale = math.isqrt(int(tail.shape[0]) // channels)
    return {
        "scale": scale,
        "in_channels": channels,
        "out_channels": channels,
        "features": int(head.shape[0]),
        "mid_features": int(tail.shape[1]),
        "num_body": _count(_BODY, state),
        "leaky": int("act_head.weight" not in state),
    }


def _espcn(hp: Hyperparameters) -> nn.Module:
    return ESPCN(**{**hp, "leaky": bool(hp["leaky"])})


# --- waifu2x upconv_7 -----------------------------------------------------------------------------

_UPCONV7_CONVS = tuple(range(0, 12, 2))  # net.0 ... net.10; net.12 is the ConvTranspose2d
_UPCONV7_DECONV = 12


def _is_upconv7(state: StateDict) -> bool:
    if set(state) != _keys(f"net.{i}" for i in (*_UPCONV7_CONVS, _UPCONV7_DECONV)):
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


def _upconv7_hyperparameters(state: StateDict) -> Hyperparameters | None:
    if not _is_upconv7(state):
        return None
    hp = {
        "scale": 2,
        "in_channels": int(state["net.0.weight"].shape[1]),
        "out_channels": int(state[f"net.{_UPCONV7_DECONV}.weight"].shape[1]),
    }
    for n, i in enumerate(_UPCONV7_CONVS, start=1):
        hp[f"width{n}"] = int(state[f"net.{i}.weight"].shape[0])
    return hp


def _upconv7(hp: Hyperparameters) -> nn.Module:
    widths = tuple(hp[f"width{n}"] for n in range(1, len(_UPCONV7_CONVS) + 1))
    return UpConv7(in_channels=hp["in_channels"], out_channels=hp["out_channels"], widths=widths)


# --- FFDNet (denoiser) ----------------------------------------------------------------------------


def _ffdnet_state(state: StateDict) -> StateDict:
    """Our key layout, whether `state` is ours or KAIR's (``model.{2i}``; see `state_dict_from_kair`)."""
    return state_dict_from_kair(state) if is_kair_state_dict(state) else state


def _is_ffdnet(state: StateDict) -> bool:
    if "head.weight" not in state or "tail.weight" not in state:
        return False
    num_body = _count(_BODY, state)
    expected = _keys(("head", "tail", *(f"body.{i}" for i in range(num_body))))
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


def _ffdnet_hyperparameters(state: StateDict) -> Hyperparameters | None:
    if not _is_ffdnet(state):
        return None
    head, tail = state["head.weight"], state["tail.weight"]
    return {
        "scale": 1,
        "in_channels": (int(head.shape[1]) - 1) // 4,
        "out_channels": int(tail.shape[0]) // 4,
        "features": int(head.shape[0]),
        "num_convs": 2 + _count(_BODY, state),
    }


def _ffdnet(hp: Hyperparameters) -> nn.Module:
    # size_multiple 1: odd sizes are padded (replicate) and cropped back inside FFDNet.forward
    return FFDNet(**{k: v for k, v in hp.items() if k != "scale"})


# --- RRDBNet (ESRGAN / Real-ESRGAN) ---------------------------------------------------------------------

_RRDB_BLOCK = re.compile(r"body\.(\d+)\.rdb1\.conv1\.weight")
_RRDB_TOP = ("conv_first", "conv_body", "conv_up1", "conv_up2", "conv_hr", "conv_last")


def _rrdbnet_expected_keys(num_block: int) -> set[str]:
    names = [*_RRDB_TOP]
    names += [f"body.{i}.rdb{j}.conv{k}" for i in range(num_block) for j in (1, 2, 3) for k in range(1, 6)]
    return _keys(names)


def _rrdbnet_hyperparameters(state: StateDict) -> Hyperparameters | None:
    """Read the hyper-parameters back from the shapes; None if they are not a consistent RRDBNet."""
    num_block = _count(_RRDB_BLOCK, state)
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


def _rrdbnet(hp: Hyperparameters) -> nn.Module:
    return RRDBNet(**hp)


def _rrdbnet_size_multiple(hp: Hyperparameters) -> int:
    return 4 // hp["scale"]  # ×2 / ×1 pixel-unshuffle their input by 2 / 4


# --- SRMD -------------------------------------------------------------------------------------------

_SRMD_CONV = re.compile(r"convs\.(\d+)\.weight")


def _srmd_hyperparameters(state: StateDict) -> Hyperparameters | None:
    num_convs = _count(_SRMD_CONV, state)
    if num_convs < 2 or set(state) != _keys(f"convs.{i}" for i in range(num_convs)):
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


def _srmd(hp: Hyperparameters) -> nn.Module:
    return SRMD(
        scale=hp["scale"],
        noise_channel=bool(hp["noise_channel"]),
        in_channels=hp["in_channels"],
        features=hp["features"],
        num_convs=hp["num_convs"],
    )


def _srmd_figures(model: nn.Module) -> dict[str, int]:
    if not isinstance(model, SRMD):
        raise TypeError(f"expected an SRMD, got {type(model).__name__}")
    return {"noise_level": model.noise_level}


# --- SPAN (NTIRE 2024 efficient SR, re-parameterised) --------------------------------------------------------

_SPAN_BLOCK_CONVS = tuple(f"block_{i}.c{j}_r" for i in range(1, SPAN_BLOCKS + 1) for j in (1, 2, 3))


def _span_hyperparameters(state: StateDict) -> Hyperparameters | None:
    """SPAN's fixed layout; widths from ``conv_1``, the scale from the upsampler (out channels = in channels)."""
    if set(state) != {"mean"} | _keys(("conv_1", *_SPAN_BLOCK_CONVS, "conv_2", "conv_cat", "upsampler.0")):
        return None
    first, planes = state["conv_1.weight"], int(state["upsampler.0.weight"].shape[0])
    if first.dim() != 4:
        return None
    features, channels = int(first.shape[0]), int(first.shape[1])
    scale = math.isqrt(planes // channels) if planes % channels == 0 else 0
    if scale < 1 or channels * scale * scale != planes:
        return None
    hp = {"scale": scale, "in_channels": channels, "out_channels": channels, "feature_channels": features}
    expected = _span(hp).state_dict()
    if any(tuple(value.shape) != tuple(expected[key].shape) for key, value in state.items()):
        return None
    return hp


def _span(hp: Hyperparameters) -> nn.Module:
    return SPAN(
        num_in_ch=hp["in_channels"],
        num_out_ch=hp["out_channels"],
        feature_channels=hp["feature_channels"],
        upscale=hp["scale"],
    )


# --- ResidualRestorer (de-JPEG, refinement, camera x1) ----------------------------------------------

_RESIDUAL_BLOCK = re.compile(r"blocks\.(\d+)\.weight")


def _residual_hyperparameters(state: StateDict) -> Hyperparameters | None:
    num_blocks = _count(_RESIDUAL_BLOCK, state)
    curves = "curve_out.weight" in state
    names = ("entry", "exit", *(f"blocks.{i}" for i in range(num_blocks)), *(("curve_hidden", "curve_out") * curves))
    if set(state) != _keys(names):
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


def _residual(hp: Hyperparameters) -> nn.Module:
    return ResidualRestorer(
        channels=hp["in_channels"],
        features=hp["features"],
        num_blocks=hp["num_blocks"],
        global_context=bool(hp["global_context"]),
        curve_steps=hp["curve_steps"],
        factor=hp["factor"],
        range_statistics=bool(hp["range_statistics"]),
    )


# --- DejpegRestorer (de-JPEG told the quality) ----------------------------------------------------------------

_DEJPEG_STACKS = ("pre", "low", "post")


def _dejpeg_hyperparameters(state: StateDict) -> Hyperparameters | None:
    """Block counts from the keys, widths from ``entry`` (features) and ``down`` (low features)."""
    counts = {stack: _count(re.compile(rf"{stack}\.(\d+)\.weight"), state) for stack in _DEJPEG_STACKS}
    names = ("entry", "down", "film", "up", "exit", *(f"{s}.{i}" for s, n in counts.items() for i in range(n)))
    if set(state) != _keys(names) or state["entry.weight"].dim() != 4 or state["down.weight"].dim() != 4:
        return None
    hp = {
        "scale": 1,
        "in_channels": 3,
        "out_channels": 3,
        "features": int(state["entry.weight"].shape[0]),
        "low_features": int(state["down.weight"].shape[0]),
        **counts,
    }
    expected = _dejpeg(hp).state_dict()
    if any(tuple(value.shape) != tuple(expected[key].shape) for key, value in state.items()):
        return None
    return hp


def _dejpeg(hp: Hyperparameters) -> nn.Module:
    return DejpegRestorer(
        features=hp["features"], low_features=hp["low_features"], pre=hp["pre"], low=hp["low"], post=hp["post"]
    )


RESTORERS: tuple[ShapeReading, ...] = (
    ShapeReading("ESPCN", _espcn_hyperparameters, _espcn),
    ShapeReading("UpConv7", _upconv7_hyperparameters, _upconv7),
    ShapeReading("FFDNet", _ffdnet_hyperparameters, _ffdnet, prepare=_ffdnet_state),
    ShapeReading(
        "RRDBNet", _rrdbnet_hyperparameters, _rrdbnet, marker="conv_first.weight", size_multiple=_rrdbnet_size_multiple
    ),
    ShapeReading("SRMD", _srmd_hyperparameters, _srmd, figures=_srmd_figures),
    ShapeReading("SPAN", _span_hyperparameters, _span, marker="block_1.c1_r.weight"),
    ShapeReading("DejpegRestorer", _dejpeg_hyperparameters, _dejpeg, marker="film.weight"),
    ShapeReading("ResidualRestorer", _residual_hyperparameters, _residual, marker="entry.weight"),
)

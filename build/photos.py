"""The real photos we train on (Debian's KDE wallpapers) and evaluate on (scikit-image's data).

Only the photographic wallpapers are used: the rest of the package is vector art, whose flat
fills and hard edges would teach the network the wrong prior. The two sets never overlap.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
from PIL import Image

WALLPAPER_ROOT = Path("/usr/share/wallpapers")
WALLPAPER_PACKAGE = "plasma-workspace-wallpapers"

# The photographs among plasma-workspace-wallpapers' folders (checked by eye; the others are art).
PHOTO_WALLPAPERS: tuple[str, ...] = (
    "BytheWater",
    "ColdRipple",
    "ColorfulCups",
    "DarkestHour",
    "EveningGlow",
    "FallenLeaf",
    "Grey",
    "Kite",
    "OneStandsOut",
    "Path",
    "summer_1am",
)

EVAL_PHOTOS: tuple[str, ...] = ("astronaut", "coffee", "chelsea", "rocket")

# The labelled benchmark (`lumaflow eval`): scikit-image's photos, then sporco's (Kodak and classic test
# photos). None of them is ever trained on. sporco is read as files, never imported (its deps are heavy).
SKIMAGE_BENCHMARK_FILES: dict[str, str] = {
    "astronaut": "astronaut.png",
    "coffee": "coffee.png",
    "chelsea": "chelsea.png",
    "rocket": "rocket.jpg",
}
SPORCO_BENCHMARK_PHOTOS: tuple[str, ...] = ("monarch", "kodim23", "sail", "tulips")
BENCHMARK_PHOTOS: tuple[str, ...] = (*SKIMAGE_BENCHMARK_FILES, *SPORCO_BENCHMARK_PHOTOS)
SPORCO_INSTALL = "pip install --no-deps sporco==0.2.2.post1"


class MissingPhotosError(FileNotFoundError):
    """The wallpaper photos are not installed (they come from a Debian package)."""


def wallpaper_photo_paths(root: Path = WALLPAPER_ROOT) -> list[Path]:
    """The largest real file (not a size symlink) of each photo wallpaper, in a fixed order."""
    paths = []
    for name in PHOTO_WALLPAPERS:
        folder = root / name / "contents" / "images"
        files = [p for p in folder.glob("*") if p.is_file() and not p.is_symlink()] if folder.is_dir() else []
        if not files:
            raise MissingPhotosError(f"no photo in {folder}")
        paths.append(max(files, key=lambda p: (p.stat().st_size, p.name)))
    return paths


def load_rgb(path: str | os.PathLike[str]) -> np.ndarray:
    """uint8 HxWx3 RGB, whatever the file's mode (one wallpaper is greyscale)."""
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def crop_to_multiple(image: np.ndarray, multiple: int) -> np.ndarray:
    """Drop the bottom/right rows and columns that do not fill a whole `multiple`."""
    h, w = image.shape[:2]
    return image[: h - h % multiple, : w - w % multiple]


def eval_photos() -> dict[str, np.ndarray]:
    """scikit-image's bundled photos, cropped to even sizes so the x2 pipeline round-trips exactly."""
    import skimage.data

    return {name: crop_to_multiple(getattr(skimage.data, name)(), 2) for name in EVAL_PHOTOS}


def _package_dir(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def benchmark_photo_path(name: str) -> Path:
    """The file of one benchmark photo, inside the installed scikit-image or sporco package."""
    if name in SKIMAGE_BENCHMARK_FILES:
        folder = _package_dir("skimage")
        if folder is None:
            raise MissingPhotosError("scikit-image is not installed: pip install scikit-image")
        return folder / "data" / SKIMAGE_BENCHMARK_FILES[name]
    if name in SPORCO_BENCHMARK_PHOTOS:
        folder = _package_dir("sporco")
        if folder is None:
            raise MissingPhotosError(f"the sporco photos are not installed: {SPORCO_INSTALL}")
        return folder / "data" / f"{name}.png"
    raise KeyError(f"unknown benchmark photo {name!r}; known: {', '.join(BENCHMARK_PHOTOS)}")


def benchmark_photos(names: tuple[str, ...] = BENCHMARK_PHOTOS) -> dict[str, np.ndarray]:
    """The benchmark's photos, decoded by Pillow as uint8 HxWx3 RGB (uncropped), in `names` order."""
    photos = {}
    for name in names:
        path = benchmark_photo_path(name)
        if not path.is_file():
            raise MissingPhotosError(f"benchmark photo {name!r} is missing: {path}")
        photos[name] = load_rgb(path)
    return photos


def resize_long_side(image: np.ndarray, side: int) -> np.ndarray:
    """``image`` with ``side`` px on its long side (Lanczos)."""
    height, width = image.shape[:2]
    scale = side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.LANCZOS))

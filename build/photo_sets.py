"""The three photo sets every quality figure is measured on: train, validation and test, disjoint.

- **train**: what our own networks learn from (the de-JPEG network of issue 25; the earlier networks were
  trained on the KDE wallpapers alone, which stay here).
- **validation**: where every design, hyper-parameter, threshold and variant is chosen. The eight photos
  the earlier benchmark reported on (scikit-image's and sporco's) are here, because choices were made on them.
  Palapeli's five puzzle photos joined it on 2026-12-06 (more clean, busy photos for issue 31's noise rule).
- **test**: report only. Fixed (and named in docs/quality.md) before the work on issue 25 started; nothing is
  chosen by looking at it.

Every photo is a file of an installed Debian package (or of scikit-image / sporco, installed by pip), with its
licence as the package's copyright file gives it. High-resolution sources are reduced by an integer factor of at
least 2 (`Image.reduce`, a box filter) before use, so that their own JPEG artefacts and demosaicking are averaged
away and the "clean" reference really is clean; the small classic test photos are used as they are.

Crops of one photo count once: each source appears in exactly one set, and `perceptual_hash` (a 64-bit DCT hash)
keeps near-duplicates across packages (e.g. OpenCV's butterfly is sporco's monarch) out: `tests/test_photo_sets.py`
checks every pair of photos differs in at least `MIN_HASH_DISTANCE` bits.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image

from lumaflow.build.photos import (
    PHOTO_WALLPAPERS,
    SKIMAGE_BENCHMARK_FILES,
    SPORCO_BENCHMARK_PHOTOS,
    WALLPAPER_ROOT,
    MissingPhotosError,
)

PhotoSet = Literal["train", "validation", "test"]
SETS: tuple[PhotoSet, ...] = ("train", "validation", "test")

# The long side a high-resolution source is reduced towards (by an integer factor, at least 2).
TARGET_LONG_SIDE = 1024
MIN_HASH_DISTANCE = 10

LOMIRI = "/usr/share/backgrounds"
MATE = "/usr/share/backgrounds/mate/nature"
OPENCV = "/usr/share/doc/opencv-doc/examples/data"
PALAPELI = "/usr/share/palapeli/collection"

# Debian packages the sets read (`make test` and `lumaflow eval` need them installed).
DEBIAN_PACKAGES: tuple[str, ...] = (
    "plasma-workspace-wallpapers",
    "lomiri-wallpapers-16.04",
    "lomiri-wallpapers-20.04",
    "mate-backgrounds",
    "opencv-doc",
    "palapeli-data",
)


@dataclass(frozen=True)
class SourcePhoto:
    """One source photograph: where it comes from, under which licence, in which set, and what it shows."""

    name: str
    set: PhotoSet
    package: str  # the Debian package, or "scikit-image" / "sporco" (PyPI)
    path: str  # absolute for Debian files; relative to the Python package's folder otherwise
    licence: str
    content: str
    reduce: bool = True  # a high-resolution source, reduced >= 2x before use

    def file(self) -> Path:
        if self.package in ("scikit-image", "sporco"):
            module = "skimage" if self.package == "scikit-image" else "sporco"
            spec = importlib.util.find_spec(module)
            if spec is None or not spec.submodule_search_locations:
                raise MissingPhotosError(f"{self.name}: the Python package {self.package} is not installed")
            return Path(next(iter(spec.submodule_search_locations))) / self.path
        return Path(self.path)


def _lomiri(name: str, file: str, set_: PhotoSet, licence: str, content: str, release: str = "16.04") -> SourcePhoto:
    return SourcePhoto(name, set_, f"lomiri-wallpapers-{release}", f"{LOMIRI}/{file}", licence, content)


def _mate(name: str, set_: PhotoSet, author: str, content: str) -> SourcePhoto:
    return SourcePhoto(name, set_, "mate-backgrounds", f"{MATE}/{name}.jpg", f"GPL-2+ ({author})", content)


def _opencv(name: str, file: str, set_: PhotoSet, content: str) -> SourcePhoto:
    # Debian's copyright file covers samples/data under "Files: *": Apache-2.0 AND BSD-3-Clause.
    return SourcePhoto(
        f"cv_{name}", set_, "opencv-doc", f"{OPENCV}/{file}", "Apache-2.0 AND BSD-3-Clause", content, reduce=True
    )


def _palapeli(name: str, licence: str, author: str, content: str) -> SourcePhoto:
    # Debian's copyright file puts the puzzles under "Files: *" (GPL-2+); each puzzle's .desktop file names its
    # photographer and licence, which is what the licence column gives.
    return SourcePhoto(
        f"pz_{name}", "validation", "palapeli-data", f"{PALAPELI}/{name}.jpg", f"{licence} ({author})", content
    )


def _wallpaper(name: str) -> SourcePhoto:
    folder = WALLPAPER_ROOT / name / "contents" / "images"
    return SourcePhoto(
        f"kde_{name}",
        "train",
        "plasma-workspace-wallpapers",
        str(folder),
        "GPL-2+ (KDE Visual Design Group, per Debian)",
        "scenery",
    )


_SKIMAGE_CONTENT = {"astronaut": "face", "coffee": "still life", "chelsea": "animal", "rocket": "architecture"}
_SPORCO_CONTENT = {"monarch": "foliage", "kodim23": "animal", "sail": "boats", "tulips": "foliage"}

PHOTOS: tuple[SourcePhoto, ...] = (
    # --- train: the KDE wallpapers (what every network so far learned from) and five OpenCV sample photos
    *(_wallpaper(name) for name in PHOTO_WALLPAPERS),
    _opencv("orange", "orange.jpg", "train", "still life"),
    _opencv("apple", "apple.jpg", "train", "still life"),
    _opencv("aero1", "aero1.jpg", "train", "aerial"),
    _opencv("aero3", "aero3.jpg", "train", "aerial"),
    _opencv("stuff", "stuff.jpg", "train", "still life"),
    _opencv("aloe", "aloeL.jpg", "train", "foliage"),
    # --- validation: the earlier benchmark's eight (choices were made on them), six MATE photos, five OpenCV ones
    *(
        SourcePhoto(
            name, "validation", "scikit-image", f"data/{file}", "CC0 / public domain (scikit-image)", content, False
        )
        for name, file in SKIMAGE_BENCHMARK_FILES.items()
        for content in (_SKIMAGE_CONTENT[name],)
    ),
    *(
        SourcePhoto(
            name, "validation", "sporco", f"data/{name}.png", "BSD-3-Clause (sporco)", _SPORCO_CONTENT[name], False
        )
        for name in SPORCO_BENCHMARK_PHOTOS
    ),
    _mate("Blinds", "validation", "Lennart Poettering, Andrea Cimitan", "foliage"),
    _mate("Dune", "validation", "Marco Cogoni, Hylke Bons", "foliage"),
    _mate("Garden", "validation", "Charles Barbin", "flower"),
    _mate("GreenMeadow", "validation", "Timothy Schellhase, Lapo Calamandrei", "foliage"),
    _mate("TwoWings", "validation", "Charles Barbin, Hylke Bons", "flower"),
    _mate("Wood", "validation", "Jean-François Fortin Tam", "texture"),
    _opencv("fruits", "fruits.jpg", "validation", "still life"),
    _opencv("baboon", "baboon.jpg", "validation", "animal face"),
    _opencv("squirrel", "squirrel_cls.jpg", "validation", "animal"),
    _opencv("ela", "ela_original.jpg", "validation", "still life"),
    _opencv("graf", "graf1.png", "validation", "graffiti, text"),
    # added 2026-12-06 (issue 31 needed more clean, busy validation photos; the reports before say 19 photos)
    _palapeli("castle-maintenon", "GFDL", "Eric Pouhier", "architecture, foliage"),
    _palapeli("cincinnati-bridge", "public domain", "Derek Jensen", "architecture, water"),
    _palapeli("citrus-fruits", "public domain", "US Department of Agriculture", "still life"),
    _palapeli("european-honey-bee", "public domain", "John Severns", "insect, flower"),
    _palapeli("panther-chameleon-female", "GFDL", "B. Navez and others", "animal"),
    # --- test: report only
    _lomiri("Bridge", "Bridge_by_Sander_Klootwijk.jpg", "test", "CC-BY-SA-4.0 (Sander Klootwijk)", "architecture"),
    _lomiri("Dragonfly", "Dragonfly_by_Bolly.jpg", "test", "CC-BY-SA-4.0 (Bolly)", "foliage"),
    _lomiri("Picture_0B", "Picture_0B_by_freespace.jpg", "test", "CC-BY-4.0 (Trevor Freespace)", "still life"),
    _lomiri("Picture_1A", "Picture_1A_by_freespace.jpg", "test", "CC-BY-4.0 (Trevor Freespace)", "still life"),
    _lomiri("Wine", "Wine_by_Jakkub_Mede.jpg", "test", "CC-BY-4.0 (Jakub Mede)", "interior, low light"),
    _lomiri("aitzgorri", "aitzgorri_by_Aitzol_Berasategi.jpg", "test", "CC-BY-4.0 (Aitzol Berasategi)", "landscape"),
    _lomiri("free", "free_by_Peter_Nerlich.jpg", "test", "CC-BY-SA-4.0 (Peter Nerlich)", "animal, interior"),
    _lomiri("friends", "friends_by_Aitzol_Berasategi.jpg", "test", "CC-BY-4.0 (Aitzol Berasategi)", "animal faces"),
    _lomiri("greentock", "greentock_by_Peter_Nerlich.jpg", "test", "CC-BY-SA-4.0 (Peter Nerlich)", "object, text"),
    _lomiri("life", "life_by_Aitzol_Berasategi.jpg", "test", "CC-BY-4.0 (Aitzol Berasategi)", "foliage, water"),
    _lomiri("picos", "picosdeeuropa_by_Aitzol_Berasategi.jpg", "test", "CC-BY-4.0 (Aitzol Berasategi)", "landscape"),
    _lomiri("seeding", "seeding_by_Clements_Engelhardt.jpg", "test", "CC0-1.0 (Clemens Engelhardt)", "foliage"),
    _lomiri("sunset", "sunset_by_Aitzol_Berasategi.jpg", "test", "CC-BY-4.0 (Aitzol Berasategi)", "dusk, backlit"),
    _lomiri("Kleiber", "Kleiber_by_Lukas_Baubkus.jpg", "test", "CC-BY-SA-3.0 (Lukas Baubkus)", "animal, bark", "20.04"),
    _mate("Aqua", "test", "Charles Barbin", "water"),
    _mate("FreshFlower", "test", "Jens Ansorg", "flower"),
    _mate("LadyBird", "test", "Charles Barbin", "flower, insect"),
    _mate("RainDrops", "test", "blackcombwhistler07", "foliage"),
    _mate("Storm", "test", "Sergey Nazarov", "dark sky, road"),
    _mate("YellowFlower", "test", "Charles Barbin", "flower"),
    _opencv("messi", "messi5.jpg", "test", "face, sport"),
    _opencv("building", "building.jpg", "test", "architecture"),
    _opencv("leuven", "leuvenA.jpg", "test", "architecture, street"),
    _opencv("board", "board.jpg", "test", "circuit board, text"),
)

# Left out on purpose: libjxl-testdata (issue 25), the art among the wallpapers (ukui-wallpapers, gnome-backgrounds,
# lomiri's umang/analogpattern/Fossa/Infinite-Sea/Painting-Colors, MATE's abstract and desktop folders), OpenCV's
# second views of one scene (leuvenB, graf3, aloeR, the chessboards) and its butterfly (sporco's monarch).


def photos_in(photo_set: PhotoSet) -> tuple[SourcePhoto, ...]:
    if photo_set not in SETS:
        raise ValueError(f"unknown photo set {photo_set!r}; known: {', '.join(SETS)}")
    return tuple(p for p in PHOTOS if p.set == photo_set)


def by_name(name: str) -> SourcePhoto:
    for photo in PHOTOS:
        if photo.name == name:
            return photo
    raise KeyError(f"unknown photo {name!r}")


def _source_file(photo: SourcePhoto) -> Path:
    path = photo.file()
    if path.is_dir():  # a KDE wallpaper folder: its largest real file
        files = [p for p in path.glob("*") if p.is_file() and not p.is_symlink()]
        if files:
            return max(files, key=lambda p: (p.stat().st_size, p.name))
    if not path.is_file():
        hint = f"apt-get install {photo.package}" if photo.path.startswith("/") else f"pip install {photo.package}"
        raise MissingPhotosError(f"photo {photo.name!r} is missing: {path} ({hint})")
    return path


def reduction_factor(width: int, height: int) -> int:
    """The integer factor a high-resolution source is reduced by: at least 2, towards `TARGET_LONG_SIDE`."""
    return max(2, round(max(width, height) / TARGET_LONG_SIDE))


def load(photo: SourcePhoto) -> np.ndarray:
    """The photo as used everywhere: uint8 HxWx3 RGB, reduced (box filter) if it is a high-resolution source."""
    with Image.open(_source_file(photo)) as image:
        rgb = image.convert("RGB")
        if photo.reduce:
            rgb = rgb.reduce(reduction_factor(*rgb.size))
        return np.asarray(rgb)


def load_set(photo_set: PhotoSet, limit: int | None = None) -> dict[str, np.ndarray]:
    """Every photo of a set (or its first `limit`), in manifest order."""
    chosen = photos_in(photo_set)[:limit]
    return {photo.name: load(photo) for photo in chosen}


def perceptual_hash(pixels: np.ndarray) -> int:
    """A 64-bit DCT hash (pHash): the signs of the 8x8 lowest frequencies of a 32x32 grey thumbnail."""
    from scipy.fft import dctn

    grey = np.asarray(Image.fromarray(pixels).convert("L").resize((32, 32), Image.Resampling.LANCZOS), np.float64)
    low = dctn(grey, norm="ortho")[:8, :8].ravel()
    bits = low > np.median(low[1:])
    return int("".join("1" if b else "0" for b in bits), 2)


def hash_distance(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def markdown() -> str:
    """The manifest as docs/quality.md shows it: one table per set (`python -m lumaflow.build.photo_sets`)."""
    lines: list[str] = []
    for photo_set in SETS:
        members = photos_in(photo_set)
        lines += [f"**{photo_set}** ({len(members)} photos)", "", "| photo | package | licence | content |"]
        lines.append("| --- | --- | --- | --- |")
        lines += [f"| `{p.name}` | {p.package} | {p.licence} | {p.content} |" for p in members]
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(), end="")

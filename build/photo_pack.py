"""A photo set packed into one file, for a machine that lacks the Debian packages the sets are read from.

The GPU machine the de-JPEG network can be trained on has no package registry, so the train set travels as a
compressed ``.npz`` of the exact arrays `lumaflow.build.photo_sets.load_set` returns (lossless: the photos a
network learns from there are bit-identical to the ones it would learn from here).

    python -m lumaflow.build.photo_pack train /tmp/train.npz
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from lumaflow.build.photo_sets import SETS, load_set


def pack_set(photo_set: str, path: Path) -> dict[str, tuple[int, ...]]:
    """Write the set's photos (uint8 HxWx3, in manifest order) to ``path``; returns their shapes by name."""
    if photo_set not in SETS:
        raise ValueError(f"unknown photo set {photo_set!r}: one of {', '.join(SETS)}")
    photos = load_set(photo_set)  # type: ignore[arg-type]
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **photos)
    return {name: tuple(photo.shape) for name, photo in photos.items()}


def unpack(path: Path) -> dict[str, np.ndarray]:
    """The packed photos by name, in the order they were packed."""
    with np.load(path, allow_pickle=False) as packed:
        return {name: np.asarray(packed[name], dtype=np.uint8) for name in packed.files}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="photo_pack", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("set", choices=SETS)
    p.add_argument("out", type=Path)
    args = p.parse_args(argv)
    shapes = pack_set(args.set, args.out)
    print(f"{len(shapes)} photos of the {args.set} set -> {args.out} ({args.out.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

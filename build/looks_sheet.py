"""The looks' pictures and catalogue: a contact sheet per category, a thumbnail per look, docs/templates/README.md.

    python -m lumaflow.build.looks sheet

renders every look with the trained network on one validation photo (astronaut by default), writes
``docs/templates/<category>.png`` and ``ensemble/thumbnails/<look>.jpg`` (listed with the pipeline for clients),
and regenerates ``docs/templates/README.md`` from the looks' declarations and their gradings' recipes. A test
checks the committed README equals ``catalogue()``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lumaflow.build.gradings import recipe
from lumaflow.build.looks import load_looknet, resize_long_side, stylize
from lumaflow.ensemble.looks import CATEGORIES, TEMPLATE_NAMES, TEMPLATES, Look

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs" / "templates"
THUMBNAILS = REPO / "ensemble" / "thumbnails"
CATALOGUE = "README.md"


def looks_in(category: str) -> list[Look]:
    return [look for look in TEMPLATES if look.category == category]


def catalogue() -> str:
    """docs/templates/README.md: every look by category, with its description and its recipe in one line."""
    lines = [
        "# Looks (`stylize` templates)",
        "",
        f"{len(TEMPLATES)} looks in {len(CATEGORIES)} categories. OPTIONS `template` takes a look's name; each is",
        'rendered by the one looks network (docs/quality.md, "Looks"). A recipe reads left to right: first the',
        "correction read from the photo itself (white balance, levels, exposure, colourfulness), then the look's",
        "fixed colour work. Gradings: `lumaflow.build.gradings`; pictures and this page: `python -m",
        "lumaflow.build.looks sheet` (the trained network on the validation photo astronaut, strength 1).",
    ]
    for key, title in CATEGORIES:
        looks = looks_in(key)
        lines += ["", f"## {title} ({len(looks)})", "", f"![{title}]({key}.png)", ""]
        lines += ["| look | what it does | recipe |", "| --- | --- | --- |"]
        lines += [f"| `{look.name}` | {look.description} | {recipe(look.name)} |" for look in looks]
    return "\n".join(lines) + "\n"


def contact_sheet(tiles: list[tuple[str, np.ndarray]], columns: int = 5) -> np.ndarray:
    """The tiles (name, image of one size) in rows of ``columns``, each labelled underneath."""
    from PIL import Image, ImageDraw

    label, pad = 18, 6
    th, tw = tiles[0][1].shape[:2]
    rows = -(-len(tiles) // columns)
    width = min(columns, len(tiles)) * (tw + pad) + pad
    sheet = Image.new("RGB", (width, rows * (th + label + pad) + pad), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for i, (name, image) in enumerate(tiles):
        x, y = pad + (i % columns) * (tw + pad), pad + (i // columns) * (th + label + pad)
        sheet.paste(Image.fromarray(image), (x, y))
        draw.text((x + 2, y + th + 3), name, fill=(0, 0, 0))
    return np.asarray(sheet)


def write_sheets(weights: Path, photo_name: str, docs: Path, thumbnails: Path, tile: int = 200) -> None:
    from PIL import Image

    from lumaflow.build.photo_sets import by_name, load

    model = load_looknet(weights)
    photo = resize_long_side(load(by_name(photo_name)), 2 * tile)  # graded at 2x, shown at 1x: the look, not noise
    looks = {name: stylize(model, photo, index) for index, name in enumerate(TEMPLATE_NAMES)}
    docs.mkdir(parents=True, exist_ok=True)
    for key, _ in CATEGORIES:
        tiles = [("original", resize_long_side(photo, tile))]
        tiles += [(look.name, resize_long_side(looks[look.name], tile)) for look in looks_in(key)]
        Image.fromarray(contact_sheet(tiles)).save(docs / f"{key}.png", optimize=True)
    thumbnails.mkdir(parents=True, exist_ok=True)
    for name, image in looks.items():
        Image.fromarray(resize_long_side(image, 96)).save(thumbnails / f"{name}.jpg", quality=80, optimize=True)
    (docs / CATALOGUE).write_text(catalogue())
    print(f"wrote {len(CATEGORIES)} contact sheets and {CATALOGUE} in {docs}, {len(looks)} thumbnails in {thumbnails}")

"""Before/after views of one enhancement: a side-by-side PNG and a self-contained HTML slider page.

Both say what was applied (the look and its strength, or the stages a router ran and why), read from
the result's INFO, so a folder of comparisons explains itself.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageOps

GAP = 8
CAPTION = 22  # pixels of the caption strip under each half


def applied(info: dict[str, Any]) -> str:
    """What the pipeline did to this photo, in a few words, from its INFO."""
    pipeline = str(info.get("pipeline", ""))
    analysis = info.get("analysis", {})
    template = analysis.get("template")
    if template:
        strength = float(template.get("strength", 1.0))
        return f"{pipeline}: {template['name']} look" + (f" at strength {strength:g}" if strength != 1.0 else "")
    route = info.get("route")
    if route is not None:
        damage = analysis.get("damage")
        names = []
        for step in route:
            name = str(step["stage"])
            if name == "damage" and damage:
                name = f"damage {100 * float(damage['coverage']):.1f}% found"
            names.append(name)
        return f"{pipeline}: " + (" > ".join(names) if names else "nothing needed")
    stages = [str(stage) for stage in info.get("stages", [])[1:-2]]
    return f"{pipeline}: " + " > ".join(stages) if stages else pipeline


def compare_stem(stem: str, info: dict[str, Any]) -> str:
    """The comparison files' stem: the look's name in it when one was applied, so each look gets its own."""
    template = info.get("analysis", {}).get("template")
    return f"{stem}_{template['name']}_compare" if template else f"{stem}_compare"


def _before_at_after_size(before: Image.Image, after: Image.Image) -> Image.Image:
    """The input shown at the result's size (nearest neighbour, so its pixels stay visible as they were)."""
    upright = ImageOps.exif_transpose(before).convert("RGB")
    return upright.resize(after.size, Image.Resampling.NEAREST) if upright.size != after.size else upright


def side_by_side(before: Image.Image, after: Image.Image, path: Path, label: str = "") -> Path:
    """Before and after at the same size, captioned "before" and "after" plus ``label`` (what was applied)."""
    left = _before_at_after_size(before, after)
    right = after.convert("RGB")
    height = max(left.height, right.height)
    canvas = Image.new("RGB", (left.width + GAP + right.width, height + CAPTION), (255, 255, 255))
    canvas.paste(left, (0, 0))
    canvas.paste(right, (left.width + GAP, 0))
    draw = ImageDraw.Draw(canvas)
    draw.text((4, height + 5), "before", fill=(0, 0, 0))
    draw.text((left.width + GAP + 4, height + 5), f"after: {label}" if label else "after", fill=(0, 0, 0))
    canvas.save(path, format="PNG")
    return path


def _data_url(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


SLIDER_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ margin: 0; font: 14px sans-serif; background: #222; color: #eee; }}
#frame {{ position: relative; width: {width}px; height: {height}px; margin: 8px auto; }}
#frame img {{ position: absolute; top: 0; left: 0; width: {width}px; height: {height}px; }}
#before {{ clip-path: inset(0 calc(100% - var(--split)) 0 0); }}
#frame {{ --split: 50%; }}
#handle {{ position: absolute; top: 0; bottom: 0; left: var(--split); width: 2px; background: #fff; }}
input {{ display: block; width: {width}px; margin: 0 auto; }}
p {{ text-align: center; }}
</style></head>
<body>
<p>{title}: before (left of the line) and after (right); drag the slider.</p>
<div id="frame">
<img id="after" alt="after" src="{after}">
<img id="before" alt="before" src="{before}">
<div id="handle"></div>
</div>
<input id="slider" type="range" min="0" max="100" value="50"
 oninput="document.getElementById('frame').style.setProperty('--split', this.value + '%')">
</body></html>
"""


def slider_page(before: Image.Image, after: Image.Image, path: Path, title: str) -> Path:
    """One HTML file with both images inline: no server, no network, opens anywhere."""
    left = _before_at_after_size(before, after)
    path.write_text(
        SLIDER_PAGE.format(
            title=html.escape(title),
            width=after.width,
            height=after.height,
            before=_data_url(left),
            after=_data_url(after.convert("RGB")),
        )
    )
    return path

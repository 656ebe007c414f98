"""Before/after views of one enhancement: a side-by-side PNG and a self-contained HTML slider page."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

from PIL import Image, ImageOps

GAP = 8


def _before_at_after_size(before: Image.Image, after: Image.Image) -> Image.Image:
    """The input shown at the result's size (nearest neighbour, so its pixels stay visible as they were)."""
    upright = ImageOps.exif_transpose(before).convert("RGB")
    return upright.resize(after.size, Image.Resampling.NEAREST) if upright.size != after.size else upright


def side_by_side(before: Image.Image, after: Image.Image, path: Path) -> Path:
    left = _before_at_after_size(before, after)
    right = after.convert("RGB")
    canvas = Image.new("RGB", (left.width + GAP + right.width, max(left.height, right.height)), (255, 255, 255))
    canvas.paste(left, (0, 0))
    canvas.paste(right, (left.width + GAP, 0))
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

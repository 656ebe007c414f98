"""The looks of the ``stylize`` pipeline: names, categories, order and what each one does to a photo.

The order is the network's: a look's index here is the ``TEMPLATE`` the looks network reads, so a look is
only ever appended (never reordered or removed) once its weights are trained. Each look belongs to one
category (``CATEGORIES``); clients list them grouped. The gradings that define each look for training live in
``lumaflow.build.gradings`` (one module per category, one function per look, its recipe in its docstring).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# One small JPEG per look (``python -m lumaflow.build.looks sheet`` renders them with the trained network).
THUMBNAILS = Path(__file__).resolve().parent / "thumbnails"

# (key, title), in the order clients list them.
CATEGORIES: tuple[tuple[str, str], ...] = (
    ("film", "Film stocks"),
    ("cinematic", "Cinematic"),
    ("portrait", "Portrait"),
    ("landscape", "Landscape and travel"),
    ("black_and_white", "Black and white"),
    ("vintage", "Vintage"),
    ("seasonal", "Seasonal"),
    ("food", "Food"),
)
CATEGORY_TITLES: dict[str, str] = dict(CATEGORIES)


@dataclass(frozen=True)
class Look:
    name: str
    description: str
    category: str

    def __post_init__(self) -> None:
        if self.category not in CATEGORY_TITLES:
            raise ValueError(f"look {self.name}: unknown category {self.category!r}")


TEMPLATES: tuple[Look, ...] = (
    Look("warm_film", "warm highlights, gently lifted blacks and a soft film contrast", "film"),
    Look("teal_orange", "cinematic split toning: teal shadows, warm skin tones and highlights", "cinematic"),
    Look("faded_matte", "matte print: lifted blacks, lowered contrast, slightly muted colour", "vintage"),
    Look("vivid", "punchy: levels stretched to the photo's own range, more contrast and saturation", "landscape"),
    Look("mono_classic", "black and white with a classic red-filter channel mix and an S curve", "black_and_white"),
    Look("sepia_print", "monochrome toned brown, like an old silver print", "black_and_white"),
    Look("cool_morning", "cool, airy and bright: a blue white balance and opened shadows", "landscape"),
    Look("golden_hour", "late-sun warmth: golden highlights and a warm white balance", "landscape"),
    Look("cross_process", "cross-processed slide film: yellow-green highlights, blue shadows, hard contrast", "film"),
    Look("bleach_bypass", "bleach bypass: desaturated, dense and hard, steel shadows, silver highlights", "cinematic"),
    Look("pastel", "bright and soft: low contrast, light, gently desaturated colours", "portrait"),
    Look("vintage_70s", "a faded 1970s print: warm-green cast, soft blacks, muted blues", "vintage"),
    Look("portra_soft", "portrait colour negative: flat contrast, cyan shadows, peach highlights", "film"),
    Look("velvia_punch", "saturated slide film: deep blues, rich greens, strong contrast", "film"),
    Look("ektachrome_cool", "cool slide film: cyan mid-tones, clean whites, crisp contrast", "film"),
    Look("cinestill_tungsten", "tungsten film by daylight: blue cast, red halation in the highlights", "film"),
    Look("expired_film", "expired stock: magenta shadows, green highlights, lifted blacks", "film"),
    Look("instant_print", "instant print: compressed highlights, cyan shadows, creamy whites", "film"),
    Look("night_blue", "day for night: dark, desaturated and blue", "cinematic"),
    Look("desert_heat", "scorched yellow-orange wash with bleached highlights", "cinematic"),
    Look("digital_green", "thriller green: a sickly green cast and hard contrast", "cinematic"),
    Look("steel_blockbuster", "cold steel blue-grey with skin kept warm", "cinematic"),
    Look("neon_night", "neon city: magenta shadows, cyan highlights, turned hues", "cinematic"),
    Look("western_dust", "dusty western: ochre foliage, sepia-leaning mids", "cinematic"),
    Look("noir_duotone", "neo-noir duotone from deep blue to amber", "cinematic"),
    Look("skin_glow", "warm glowing skin, bright highlights, lively colour", "portrait"),
    Look("porcelain", "pale and cool: low saturation, pearl-white highlights", "portrait"),
    Look("bronze_tan", "sun-tanned: bronze skin, golden highlights, deeper mids", "portrait"),
    Look("rosy_blush", "rosy skin and rose-pink mid-tones", "portrait"),
    Look("studio_clean", "clean studio light: full auto white balance, levels and exposure, a touch warm", "portrait"),
    Look("editorial_matte", "magazine matte: muted colour, greenish blacks, cool skies", "portrait"),
    Look("moody_low_key", "dark and moody: deep shadows, olive mids, skin kept warm", "portrait"),
    Look("lush_green", "deep emerald foliage, the rest untouched", "landscape"),
    Look("deep_sky", "polariser look: darker, deeper blue skies and strong contrast", "landscape"),
    Look("alpine_clear", "crisp mountain air: bright, neutral whites, blue shadows", "landscape"),
    Look("misty_haze", "atmospheric haze: pale blue-grey, very low contrast", "landscape"),
    Look("sunset_glow", "sunset colour: pink skies, magenta shadows, orange highlights", "landscape"),
    Look("high_key_mono", "bright airy black and white with a green filter", "black_and_white"),
    Look("noir_hard", "hard-contrast noir black and white with a blue filter", "black_and_white"),
    Look("selenium_tone", "selenium-toned print: purple-brown shadows", "black_and_white"),
    Look("cyanotype", "cyanotype: Prussian blue to paper white", "black_and_white"),
    Look("platinum_warm", "platinum print: long soft tones in warm grey", "black_and_white"),
    Look("infrared_mono", "infrared black and white: white foliage, black skies", "black_and_white"),
    Look("polaroid_80s", "1980s instant film: cyan shadows, cream highlights", "vintage"),
    Look("kodachrome_60s", "1960s slide film: rich reds, deep blues, magenta shadows", "vintage"),
    Look("hand_tinted", "a hand-tinted monochrome: faint colour on warm paper", "vintage"),
    Look("lomo_pop", "toy camera: turned hues, hard curves, blue shadows, saturated", "vintage"),
    Look("faded_postcard", "sun-faded postcard: reds survive, blues and greens bleached", "vintage"),
    Look("retro_teal_fade", "faded teal print: teal mids, low contrast", "vintage"),
    Look("spring_bloom", "spring: fresh yellow-green leaves, pink mids, soft light", "seasonal"),
    Look("summer_bright", "summer: bright warm sunshine and turquoise skies", "seasonal"),
    Look("autumn_gold", "autumn: green leaves turned orange and gold", "seasonal"),
    Look("winter_frost", "winter: icy white balance, blue shadows, muted colour", "seasonal"),
    Look("festive_warm", "festive evening: red-magenta warmth and deep reds", "seasonal"),
    Look("harvest_amber", "harvest: honey-amber light and turned hues", "seasonal"),
    Look("rainy_day", "rainy day: wet grey-green light, soft contrast", "seasonal"),
    Look("tropical_vivid", "tropical: aqua skies, lush greens, vivid colour", "seasonal"),
    Look("bistro_warm", "bistro: tungsten amber, brown shadows, muted colour", "food"),
    Look("bright_cafe", "bright café: airy, crisp light with cool grey blacks", "food"),
    Look("dark_moody_food", "dark food: a dark backdrop with rich warm food tones", "food"),
    Look("bakery_cream", "bakery: cream white, golden crusts, soft contrast", "food"),
    Look("golden_fry", "golden fry: golden-yellow warmth and glossy highlights", "food"),
)

TEMPLATE_NAMES: tuple[str, ...] = tuple(look.name for look in TEMPLATES)


def listing(looks: tuple[Look, ...], thumbnails: Path = THUMBNAILS) -> list[dict[str, Any]]:
    """What a pipeline's config lists for clients, grouped by category (in ``CATEGORIES`` order): each look's
    name, description, category (key and title) and thumbnail (a data URL)."""
    order = [key for key, _ in CATEGORIES]
    entries = []
    for look in sorted(looks, key=lambda look: order.index(look.category)):  # stable: the network's order within
        entry: dict[str, Any] = {
            "name": look.name,
            "description": look.description,
            "category": look.category,
            "category_title": CATEGORY_TITLES[look.category],
        }
        thumbnail = thumbnails / f"{look.name}.jpg"
        if thumbnail.is_file():
            entry["thumbnail"] = "data:image/jpeg;base64," + base64.b64encode(thumbnail.read_bytes()).decode()
        entries.append(entry)
    return entries

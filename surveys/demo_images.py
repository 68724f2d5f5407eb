"""Draws an illustration of a street from its audited attributes, with Pillow — nothing is
downloaded. The drawing is schematic on purpose: it shows what the audit recorded (sidewalk
width, trees, benches, lighting, crossings, bike lane), which is what residents react to."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw

W, H = 640, 400
SKY = (200, 225, 245)
ROAD = (90, 90, 96)
SIDEWALK = (190, 186, 178)
CRACKED = (160, 150, 140)
GRASS = (120, 175, 95)
TREE = (46, 120, 60)
TRUNK = (110, 80, 50)
BUILDING = {"Low-rise": 110, "Mid-rise": 170, "High-rise": 240}
BUILDING_COLOURS = [(176, 132, 110), (150, 160, 175), (205, 190, 160), (130, 140, 130)]
SIDEWALK_PX = {"Absent": 0, "Narrow": 22, "Variable": 34, "Wide": 52}


def _present(attrs: dict, key: str) -> bool:
    return str(attrs.get(key, "")).strip() not in ("", "Absent", "No")


def street_png(attrs: dict) -> bytes:
    img = Image.new("RGB", (W, H), SKY)
    d = ImageDraw.Draw(img)
    horizon = 230
    height = BUILDING.get(str(attrs.get("building_hight", "")).strip(), 140)
    for i, x in enumerate(range(0, W, 110)):
        h = height - (i % 3) * 18
        d.rectangle([x, horizon - h, x + 100, horizon], fill=BUILDING_COLOURS[i % 4])
        for wy in range(horizon - h + 12, horizon - 12, 26):
            for wx in (x + 12, x + 42, x + 72):
                d.rectangle([wx, wy, wx + 16, wy + 14], fill=(235, 235, 210))
    sidewalk = SIDEWALK_PX.get(str(attrs.get("sidewalk_width", "")).strip(), 30)
    walk_colour = CRACKED if str(attrs.get("sidewalk_condition", "")).strip() == "Fair" else SIDEWALK
    if _present(attrs, "greenery_presence"):
        d.rectangle([0, horizon, W, horizon + 12], fill=GRASS)
    top = horizon + 12
    if sidewalk:
        d.rectangle([0, top, W, top + sidewalk], fill=walk_colour)
    road_top = top + sidewalk
    d.rectangle([0, road_top, W, H], fill=ROAD)
    if _present(attrs, "road_markings"):
        for x in range(0, W, 60):
            d.rectangle([x, road_top + 70, x + 30, road_top + 74], fill=(240, 240, 240))
    if _present(attrs, "bike_lane_presence"):
        d.rectangle([0, road_top + 4, W, road_top + 26], fill=(60, 150, 80))
        d.text((20, road_top + 8), "BIKE", fill=(255, 255, 255))
    if _present(attrs, "pedestrian_crossings"):
        for i in range(8):
            d.rectangle([430 + i * 14, road_top, 438 + i * 14, H], fill=(245, 245, 245))
    if _present(attrs, "crossing_signals"):
        d.rectangle([410, horizon - 70, 415, top], fill=(40, 40, 40))
        d.rectangle([402, horizon - 95, 423, horizon - 68], fill=(30, 30, 30))
        d.ellipse([406, horizon - 92, 419, horizon - 80], fill=(230, 60, 50))
        d.ellipse([406, horizon - 80, 419, horizon - 69], fill=(70, 200, 90))
    greenery = str(attrs.get("greenery_presence", "")).strip()
    n_trees = {"Absent": 0, "Basic": 2, "Medium": 3, "High": 5}.get(greenery, 0)
    for i in range(n_trees):
        x = 40 + i * 120
        d.rectangle([x - 4, horizon - 50, x + 4, top], fill=TRUNK)
        d.ellipse([x - 34, horizon - 110, x + 34, horizon - 40], fill=TREE)
    if _present(attrs, "street_lighting"):
        for x in (100, 340, 580):
            d.rectangle([x, horizon - 120, x + 4, top], fill=(60, 60, 60))
            d.rectangle([x - 14, horizon - 124, x + 10, horizon - 118], fill=(60, 60, 60))
            d.ellipse([x - 18, horizon - 120, x - 8, horizon - 110], fill=(255, 225, 120))
    if _present(attrs, "seating_availability"):
        d.rectangle([200, top - 10, 250, top - 4], fill=(120, 80, 40))
        d.rectangle([204, top - 4, 208, top + 4], fill=(60, 60, 60))
        d.rectangle([242, top - 4, 246, top + 4], fill=(60, 60, 60))
    if _present(attrs, "waste_bins"):
        d.rectangle([290, top - 18, 304, top + 2], fill=(40, 90, 60))
    if _present(attrs, "bus_stops"):
        d.rectangle([500, horizon - 60, 560, top], outline=(30, 30, 90), width=3)
        d.text((508, horizon - 55), "BUS", fill=(30, 30, 90))
    out = io.BytesIO()
    img.save(out, format="PNG", optimize=True)
    return out.getvalue()


_EN = {
    "sidewalk_width": {
        "Absent": "no sidewalk",
        "Narrow": "a narrow sidewalk",
        "Variable": "a sidewalk of varying width",
        "Wide": "a wide sidewalk",
    },
    "greenery_presence": {
        "Absent": "no greenery",
        "Basic": "a few trees",
        "Medium": "some trees",
        "High": "many trees",
    },
}
_FR = {
    "sidewalk_width": {
        "Absent": "sans trottoir",
        "Narrow": "un trottoir étroit",
        "Variable": "un trottoir de largeur variable",
        "Wide": "un large trottoir",
    },
    "greenery_presence": {
        "Absent": "sans verdure",
        "Basic": "quelques arbres",
        "Medium": "des arbres",
        "High": "beaucoup d’arbres",
    },
}
_FEATURES = [
    ("seating_availability", "benches", "des bancs"),
    ("street_lighting", "street lights", "des lampadaires"),
    ("pedestrian_crossings", "a pedestrian crossing", "un passage piéton"),
    ("crossing_signals", "crossing signals", "des feux piétons"),
    ("bike_lane_presence", "a bike lane", "une piste cyclable"),
    ("bus_stops", "a bus stop", "un arrêt de bus"),
    ("waste_bins", "waste bins", "des poubelles"),
]


def street_alt_text(code: str, attrs: dict) -> tuple[str, str]:
    """English and French alt text describing what the illustration shows."""
    width = str(attrs.get("sidewalk_width", "")).strip()
    green = str(attrs.get("greenery_presence", "")).strip()
    has = [(en, fr) for key, en, fr in _FEATURES if _present(attrs, key)]
    lacks = [(en, fr) for key, en, fr in _FEATURES if not _present(attrs, key)]
    en = (
        f"Illustration of street {code}: {_EN['sidewalk_width'].get(width, 'a sidewalk')}, "
        f"{_EN['greenery_presence'].get(green, 'some greenery')}"
        + (", with " + ", ".join(e for e, _ in has) if has else "")
        + ("; no " + ", no ".join(e.removeprefix("a ").removeprefix("an ") for e, _ in lacks) if lacks else "")
        + "."
    )
    fr = (
        f"Illustration de la rue {code} : {_FR['sidewalk_width'].get(width, 'un trottoir')}, "
        f"{_FR['greenery_presence'].get(green, 'de la verdure')}"
        + (", avec " + ", ".join(f for _, f in has) if has else "")
        + (
            "; sans "
            + ", sans ".join(f.removeprefix("un ").removeprefix("une ").removeprefix("des ") for _, f in lacks)
            if lacks
            else ""
        )
        + "."
    )
    return en, fr

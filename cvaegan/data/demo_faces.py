"""The demo's built-in dataset: procedural cartoon faces of a few fixed identities.

It mirrors what CVAE-GAN is about without any download. Each class is one "person" whose traits
(face shape, skin, hair colour and style, eyes, nose, beard, sweater, the style and colour of their
glasses and hat) never change; each image draws fresh per-image attributes (pose shift, scale,
rotation, smile amount, lighting, background) that the label does not explain, i.e. what the
model's latent z has to carry.

Each image also draws four binary attributes, named as in CelebA so one attribute editor works on
both datasets: `ATTRIBUTES` (Smiling, Eyeglasses, Mouth_Slightly_Open, Wearing_Hat). They are
stored in the manifest as every item's `target` and inside its `attributes`, and because a face is
a pure function of (traits, attributes), `render_item` can redraw the very same face with any of
them flipped: the exact ground truth of an attribute edit.

Faces are drawn with PIL at about 256 px and downscaled with LANCZOS, so they stay anti-aliased and
readable at 32 and 64 px. Everything is a pure function of the seed: the same config gives
byte-identical PNGs.
"""

from __future__ import annotations

import colorsys
import copy
import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from cvaegan.data.manifest import MANIFEST_NAME, new_manifest
from cvaegan.runtime.atomic import atomic_path, atomic_write_json

GENERATOR_VERSION = 2  # bump when the drawing changes, so old datasets are regenerated
CANVAS = 256           # supersampled drawing size, whatever the output size
TEST_FRACTION = 0.1

NAMES = ["Ada", "Bram", "Cleo", "Dev", "Edda", "Finn", "Gus", "Hana", "Ivo", "Juno", "Kai", "Lena",
         "Milo", "Nia", "Otto", "Pia", "Quin", "Rosa", "Sami", "Tove", "Uma", "Vik", "Wren", "Xia",
         "Yara", "Zeb"]
# Palettes are spread out in colour so identities differ at a glance, and assigned by index
# (through a seeded permutation) so no two of the first len(palette) identities share a colour.
HAIR = {"black": (34, 30, 38), "blonde": (244, 208, 88), "ginger": (214, 96, 30),
        "brown": (116, 66, 32), "silver": (214, 216, 228), "blue": (52, 104, 222),
        "pink": (240, 118, 182), "green": (62, 168, 84), "purple": (138, 66, 190), "teal": (30, 160, 170)}
SKIN = [(255, 226, 200), (238, 190, 146), (222, 168, 104), (192, 128, 70), (138, 86, 46), (96, 60, 36)]
EYES = {"brown": (110, 60, 25), "blue": (40, 110, 220), "green": (40, 150, 70), "grey": (110, 120, 130),
        "amber": (200, 130, 20), "dark": (25, 20, 30)}
SWEATER = [(200, 50, 60), (40, 90, 170), (240, 180, 40), (60, 150, 90), (120, 70, 160), (240, 130, 60),
           (40, 40, 50), (235, 235, 235), (90, 190, 210), (170, 110, 70)]
STYLES = ["short", "long", "fringe", "spiky", "bun", "bald"]
# Glasses and hats come and go per image, but their look belongs to the person, so an edit that
# adds them to someone has one right answer. Frame colours run from dark to light so every skin
# has a contrasting choice; hat colours are saturated so a hat never passes for hair.
GLASSES_STYLES = ["round", "square"]
FRAMES = {"black": (22, 22, 28), "tortoise": (112, 60, 22), "red": (196, 28, 40), "navy": (28, 46, 140),
          "gold": (236, 188, 44), "white": (244, 244, 248)}
HAT_STYLES = ["beanie", "cap"]
HATS = {"red": (214, 36, 48), "royal": (36, 72, 210), "yellow": (248, 202, 30), "green": (34, 150, 64),
        "orange": (244, 120, 24), "violet": (128, 48, 176), "white": (240, 240, 240), "black": (28, 28, 34)}

# The per-image binary attributes (CelebA names) and how often each is present. Roughly balanced,
# so a classifier or an editor sees both values of every attribute often enough to learn them.
ATTRIBUTES = ("Smiling", "Eyeglasses", "Mouth_Slightly_Open", "Wearing_Hat")
ATTRIBUTE_PROBABILITY = {"Smiling": 0.5, "Eyeglasses": 0.4, "Mouth_Slightly_Open": 0.4, "Wearing_Hat": 0.35}
# Smiling maps the image's uniform smile amount r into disjoint mouth-curve ranges, so flipping it
# keeps r and the flipped face is still determined: smile = lo + span * r.
SMILE_RANGE = {True: (0.45, 0.5), False: (-0.4, 0.45)}


@dataclass
class DemoDataConfig:
    """`shared_looks`: the style-transfer variant (SAAE). Image j of every identity shares one
    "look" — pose, scale, rotation, lighting, background — with a neutral expression and no
    glasses or hat, so "identity c in the look of image j" has an exact ground truth (the item of
    class c and look j). Items carry the look as their `style`; each identity also gets a render in
    the neutral look (the reference style: SAAE's content image); every fifth look is held out
    (`split: test`: unseen styles), and `"flip": false` (a mirrored face is another look).

    `heldout_identities` k > 0: the open-set variant (identity swapping). The last k identities
    are unseen people: every item of theirs is `split: test` and every item of the others
    `split: train` (no per-image test split), so training never sees a held-out face, and
    `render_swap` draws the exact ground truth of "identity c with the attributes of item i".
    `heldout_per_class` (0 = `per_class`) sets the unseen people's image count on its own, so a run
    can train on many identities with few images each and still score every unseen person on many
    images (README, "Identity swap": measured, not adopted)."""

    num_classes: int = 8
    per_class: int = 200
    size: int = 64
    seed: int = 0
    shared_looks: bool = False
    heldout_identities: int = 0
    heldout_per_class: int = 0

    def images_of(self, index: int) -> int:
        """How many images class `index` gets (before the shared-looks variant's reference render)."""
        if self.heldout_per_class and index >= self.num_classes - self.heldout_identities:
            return self.heldout_per_class
        return self.per_class


# --------------------------------------------------------------------------- traits and attributes

def class_name(index: int) -> str:
    base = NAMES[index % len(NAMES)]
    return base if index < len(NAMES) else f"{base} {index // len(NAMES) + 1}"


def identity_traits(cfg: DemoDataConfig) -> list[dict[str, Any]]:
    """The fixed traits of each class (JSON-able), spread over the palettes so classes differ."""
    rng = np.random.default_rng([cfg.seed, 7001])
    hair_names = list(HAIR)
    perm_hair, perm_style = rng.permutation(len(HAIR)), rng.permutation(len(STYLES))
    perm_skin, perm_eye = rng.permutation(len(SKIN)), rng.permutation(len(EYES))
    perm_sweater = rng.permutation(len(SWEATER))
    perm_frame, perm_hat = rng.permutation(len(FRAMES)), rng.permutation(len(HATS))
    out = []
    for i in range(cfg.num_classes):
        lap = i // len(HAIR)  # past the palette size, shift the other palettes so pairs stay unique
        hair_name = hair_names[perm_hair[i % len(HAIR)]]
        style = STYLES[perm_style[(i + lap) % len(STYLES)]]
        eye_name = list(EYES)[perm_eye[i % len(EYES)]]
        skin = SKIN[perm_skin[(i + 2 * lap) % len(SKIN)]]
        frame = _contrasting(FRAMES, perm_frame, i, avoid=[skin], gap=_luma_gap, min_gap=70.0)
        hat = _contrasting(HATS, perm_hat, i, avoid=[skin, HAIR[hair_name]], gap=math.dist, min_gap=110.0)
        beard = bool(style == "bald" or rng.random() < 0.2)
        out.append({
            "index": i,
            "name": class_name(i),
            "skin": list(skin),
            "hair_colour_name": hair_name,
            "hair_colour": list(HAIR[hair_name]),
            "hair_style": style,
            "head_width": round(float(rng.uniform(0.25, 0.31)), 4),     # half-width, canvas units
            "face_aspect": round(float(rng.uniform(1.0, 1.3)), 4),      # height / width
            "jaw": round(float(rng.uniform(0.55, 1.0)), 4),             # lower-face width factor
            "eye_spacing": round(float(rng.uniform(0.075, 0.12)), 4),
            "eye_size": round(float(rng.uniform(0.032, 0.048)), 4),
            "eye_colour_name": eye_name,
            "eye_colour": list(EYES[eye_name]),
            "brow": round(float(rng.uniform(0.006, 0.02)), 4),          # eyebrow thickness
            "nose_size": round(float(rng.uniform(0.012, 0.034)), 4),
            "blush": bool(rng.random() < 0.5),
            "beard": beard,
            "sweater": list(SWEATER[perm_sweater[(i + lap) % len(SWEATER)]]),
            "glasses_style": GLASSES_STYLES[int(rng.integers(len(GLASSES_STYLES)))],
            "glasses_colour_name": frame,
            "glasses_colour": list(FRAMES[frame]),
            "hat_style": HAT_STYLES[int(rng.integers(len(HAT_STYLES)))],
            "hat_colour_name": hat,
            "hat_colour": list(HATS[hat]),
        })
    return out


def _contrasting(palette: dict[str, tuple[int, int, int]], perm: np.ndarray, i: int,
                 avoid: list[tuple[int, int, int]], gap: Callable[[Any, Any], float], min_gap: float) -> str:
    """The palette colour at this identity's place in a seeded order, skipping colours too close to
    `avoid` (skin, hair): glasses on a same-coloured face or a hat the colour of the hair would
    hide the very attribute the data is meant to show."""
    names = list(palette)
    order = [names[perm[(i + k) % len(names)]] for k in range(len(names))]
    def worst(name: str) -> float:
        return min(gap(palette[name], c) for c in avoid)
    return next((n for n in order if worst(n) >= min_gap), max(order, key=worst))


def _luma_gap(a: Any, b: Any) -> float:
    """Brightness difference: thin frames are seen by their light/dark edge, hue alone blurs away
    at 32 px (gold frames on pale skin differ in colour, hardly in brightness)."""
    def luma(c: Any) -> float:
        return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]
    return abs(luma(a) - luma(b))


def sample_attributes(rng: np.random.Generator) -> dict[str, Any]:
    """Per-image attributes that vary within a class: what the label does not explain. The binary
    `ATTRIBUTES` are drawn last, each independently, and stored as JSON booleans."""
    h, s, v = rng.random(), rng.uniform(0.15, 0.5), rng.uniform(0.55, 0.95)
    out: dict[str, Any] = {
        "dx": round(float(rng.uniform(-0.08, 0.08)), 4),        # pose shift, fraction of the image
        "dy": round(float(rng.uniform(-0.06, 0.06)), 4),
        "scale": round(float(rng.uniform(0.88, 1.08)), 4),
        "rotation": round(float(rng.uniform(-12.0, 12.0)), 3),  # degrees, anticlockwise
        "smile_amount": round(float(rng.random()), 4),          # where in its Smiling range the mouth lies
        "light_angle": round(float(rng.uniform(0.0, 2 * math.pi)), 4),
        "light_strength": round(float(rng.uniform(0.0, 0.4)), 4),
        "background": [round(c * 255) for c in colorsys.hsv_to_rgb(h, s, v)],
    }
    for name in ATTRIBUTES:
        out[name] = bool(rng.random() < ATTRIBUTE_PROBABILITY[name])
    return out


NEUTRAL_LOOK = "neutral"
LOOK_STREAM = 7002      # the looks' own random stream, apart from the identities' and images'
LOOK_TEST_EVERY = 5     # look j is held out when j % 5 == 0
NEUTRAL_SMILE = 0.47    # Smiling off at this amount: a straight mouth (curve ≈ 0, see SMILE_RANGE)


def look_attributes(rng: np.random.Generator | None) -> dict[str, Any]:
    """A shared look (`DemoDataConfig.shared_looks`): `sample_attributes`' pose, lighting and
    background with a neutral expression and none of the binary attributes; `None` gives the
    neutral look itself (centred, upright, unlit, on grey)."""
    if rng is None:
        out: dict[str, Any] = {"dx": 0.0, "dy": 0.0, "scale": 1.0, "rotation": 0.0, "smile_amount": NEUTRAL_SMILE,
                               "light_angle": 0.0, "light_strength": 0.0, "background": [160, 160, 160]}
    else:
        out = sample_attributes(rng)
        out["smile_amount"] = NEUTRAL_SMILE
    for name in ATTRIBUTES:
        out[name] = False
    return out


def smile_curve(attrs: dict[str, Any]) -> float:
    """The mouth curve of an image: > 0 turns the corners up. Smiling picks the range (a clear
    smile vs neutral to slight frown) and the image's smile amount the place in it, so flipping
    Smiling gives one determined face."""
    lo, span = SMILE_RANGE[bool(attrs["Smiling"])]
    return lo + span * float(attrs["smile_amount"])


def with_attributes(attrs: dict[str, Any], changes: Mapping[str, float | bool | int]) -> dict[str, Any]:
    """A copy of an item's per-image attributes with the named binary attributes set (1/0, True/False):
    everything else (pose, light, background, smile amount) stays, which is what makes the redrawn
    face the ground truth of an edit."""
    unknown = [n for n in changes if n not in ATTRIBUTES]
    if unknown:
        raise ValueError(f"unknown attribute(s) {unknown}; the demo faces have {list(ATTRIBUTES)}")
    out = copy.deepcopy(dict(attrs))
    for name, value in changes.items():
        out[name] = _binary(name, value)
    return out


def _binary(name: str, value: Any) -> bool:
    """0/1 or False/True; anything else (0.7, "yes") is refused rather than guessed at."""
    if isinstance(value, (bool, int, float, np.bool_, np.integer, np.floating)) and float(value) in (0.0, 1.0):
        return bool(value)
    raise ValueError(f"attribute {name} takes 0/1 or False/True, got {value!r}")


# --------------------------------------------------------------------------- drawing

def _rgb(c: Any) -> tuple[int, int, int]:
    return (int(c[0]), int(c[1]), int(c[2]))


def _shade(c: Any, f: float) -> tuple[int, int, int]:
    return tuple(int(max(0, min(255, round(v * f)))) for v in c)  # type: ignore[return-value]


def _mix(c: Any, other: Any, f: float) -> tuple[int, int, int]:
    """`c` moved a fraction `f` towards `other`: an opaque stand-in for a translucent paint.
    (ImageDraw replaces RGBA pixels instead of blending, so a translucent fill on the figure
    layer would let the background show through the face.)"""
    return tuple(int(round(a + (b - a) * f)) for a, b in zip(c, other))  # type: ignore[return-value]


class _Pen:
    """Draws in canvas units (0..1 across the figure) on the supersampled RGBA layer."""

    def __init__(self, img: Image.Image, unit: float, origin: tuple[float, float]) -> None:
        self.img = img
        self.d = ImageDraw.Draw(img)
        self.u, self.ox, self.oy = unit, origin[0], origin[1]

    def p(self, x: float, y: float) -> tuple[float, float]:
        return (self.ox + x * self.u, self.oy + y * self.u)

    def box(self, cx: float, cy: float, rx: float, ry: float) -> list[float]:
        x0, y0 = self.p(cx - rx, cy - ry)
        x1, y1 = self.p(cx + rx, cy + ry)
        return [x0, y0, x1, y1]

    def w(self, t: float) -> int:
        return max(1, round(t * self.u))

    def ellipse(self, cx: float, cy: float, rx: float, ry: float, fill: Any = None,
                outline: Any = None, width: float = 0.0) -> None:
        self.d.ellipse(self.box(cx, cy, rx, ry), fill=fill, outline=outline,
                       width=self.w(width) if outline else 0)

    def polygon(self, pts: list[tuple[float, float]], fill: Any) -> None:
        self.d.polygon([self.p(x, y) for x, y in pts], fill=fill)

    def line(self, pts: list[tuple[float, float]], fill: Any, width: float) -> None:
        self.d.line([self.p(x, y) for x, y in pts], fill=fill, width=self.w(width), joint="curve")

    def overlay(self) -> "_Pen":
        """A pen on a blank layer of the same size, for translucent paint (see `composite`)."""
        return _Pen(Image.new("RGBA", self.img.size, (0, 0, 0, 0)), self.u, (self.ox, self.oy))

    def composite(self, layer: "_Pen") -> None:
        self.img.alpha_composite(layer.img)


def _head_geometry(t: dict[str, Any]) -> dict[str, float]:
    hw = float(t["head_width"])
    hh = hw * float(t["face_aspect"])
    cy = 0.47
    return {"cx": 0.5, "cy": cy, "hw": hw, "hh": hh, "top": cy - hh, "brow_y": cy - 0.1 * hh,
            "eye_y": cy - 0.02 * hh, "mouth_y": cy + 0.5 * hh, "hat_y": cy - 0.46 * hh}


def _draw_back_hair(pen: _Pen, t: dict[str, Any], g: dict[str, float], hair: tuple, hat: bool) -> None:
    cx, cy, hw, hh = g["cx"], g["cy"], g["hw"], g["hh"]
    if t["hair_style"] == "long":
        pen.polygon([(cx - hw * 1.18, cy - hh * 0.3), (cx + hw * 1.18, cy - hh * 0.3),
                     (cx + hw * 1.3, cy + hh * 1.25), (cx - hw * 1.3, cy + hh * 1.25)], hair)
    if t["hair_style"] == "bun" and not hat:  # under a hat the bun is tucked away
        pen.ellipse(cx, g["top"] - hh * 0.12, hw * 0.45, hw * 0.42, fill=hair)
    if t["hair_style"] != "bald":
        pen.ellipse(cx, cy - hh * 0.12, hw * 1.12, hh * 0.98, fill=hair)


def _draw_face(pen: _Pen, t: dict[str, Any], g: dict[str, float], skin: tuple) -> None:
    cx, cy, hw, hh = g["cx"], g["cy"], g["hw"], g["hh"]
    pen.ellipse(cx - hw * 1.0, cy + hh * 0.05, hw * 0.16, hh * 0.2, fill=_shade(skin, 0.93))   # ears
    pen.ellipse(cx + hw * 1.0, cy + hh * 0.05, hw * 0.16, hh * 0.2, fill=_shade(skin, 0.93))
    pen.ellipse(cx, cy - hh * 0.15, hw, hh * 0.85, fill=skin)                         # cranium
    jaw = float(t["jaw"])
    pen.ellipse(cx, cy + hh * 0.2, hw * jaw, hh * 0.8, fill=skin)                   # jaw / chin
    pen.polygon([(cx - hw, cy - hh * 0.15), (cx + hw, cy - hh * 0.15),
                 (cx + hw * jaw, cy + hh * 0.2), (cx - hw * jaw, cy + hh * 0.2)], skin)


def _draw_front_hair(pen: _Pen, t: dict[str, Any], g: dict[str, float], hair: tuple, skin: tuple,
                     hat: bool) -> None:
    cx, cy, hw, hh, top = g["cx"], g["cy"], g["hw"], g["hh"], g["top"]
    style = t["hair_style"]
    if style == "bald":
        pen.ellipse(cx - hw * 0.35, top + hh * 0.22, hw * 0.18, hh * 0.07, fill=_mix(skin, (255, 255, 255), 0.43))
        return
    line = cy - hh * (0.55 if style != "fringe" else 0.35)
    pen.d.chord(pen.box(cx, line, hw * 1.04, line - top + hh * 0.04), 180, 360, fill=hair)
    if style == "fringe":
        n = 5
        for k in range(n):
            x0 = cx - hw * 0.95 + k * (1.9 * hw / n)
            pen.polygon([(x0, line - 0.01), (x0 + 1.9 * hw / n, line - 0.01),
                         (x0 + 0.95 * hw / n, line + hh * 0.22)], hair)
    if style == "spiky" and not hat:  # a hat flattens the spikes
        n = 6
        for k in range(n):
            x0 = cx - hw * 0.95 + k * (1.9 * hw / n)
            pen.polygon([(x0, top + hh * 0.15), (x0 + 1.9 * hw / n, top + hh * 0.15),
                         (x0 + 0.95 * hw / n + (k - n / 2) * 0.01, top - hh * 0.32)], hair)
    if style == "long":
        for side in (-1, 1):
            pen.ellipse(cx + side * hw * 0.92, cy - hh * 0.25, hw * 0.22, hh * 0.5, fill=hair)


def _draw_eyes(pen: _Pen, t: dict[str, Any], g: dict[str, float], skin: tuple, hair: tuple) -> None:
    cx, ey = g["cx"], g["eye_y"]
    es, er = float(t["eye_spacing"]), float(t["eye_size"])
    dark = (30, 24, 30)
    if t["blush"]:
        for side in (-1, 1):
            pen.ellipse(cx + side * (es + er * 0.9), ey + er * 2.2, er * 0.9, er * 0.5,
                        fill=_mix(skin, (240, 120, 130), 0.47))
    for side in (-1, 1):
        ex = cx + side * es
        pen.ellipse(ex, ey, er, er * 1.08, fill=(255, 255, 255))
        pen.ellipse(ex, ey + er * 0.1, er * 0.68, er * 0.72, fill=_rgb(t["eye_colour"]))
        pen.ellipse(ex, ey + er * 0.12, er * 0.34, er * 0.36, fill=dark)
        pen.ellipse(ex - er * 0.25, ey - er * 0.2, er * 0.2, er * 0.2, fill=(255, 255, 255))
        by = ey - er * 1.7
        pen.line([(ex - er * 1.1, by + 0.004), (ex, by - 0.006), (ex + er * 1.1, by + 0.004)],
                 _shade(hair, 0.8) if t["hair_style"] != "bald" else _shade(skin, 0.55), float(t["brow"]))


def _draw_nose_and_beard(pen: _Pen, t: dict[str, Any], g: dict[str, float], skin: tuple, hair: tuple) -> None:
    cx, cy, hw, hh = g["cx"], g["cy"], g["hw"], g["hh"]
    ns = float(t["nose_size"])
    ny = g["eye_y"] + float(t["eye_size"]) + ns * 0.9
    pen.ellipse(cx, ny, ns * 0.8, ns * 0.6, fill=_shade(skin, 0.82))
    if t["beard"]:
        jaw = float(t["jaw"])
        pen.d.chord(pen.box(cx, cy + hh * 0.2, hw * jaw * 1.02, hh * 0.82), 0, 180, fill=hair)
        pen.ellipse(cx, g["mouth_y"], hw * 0.42, hh * 0.14, fill=skin)


def _lip_colour(skin: tuple) -> tuple[int, int, int]:
    """Dark lips on light skin, light lips on dark skin: a mouth line the colour of the face would
    make Smiling invisible for the darker identities."""
    luma = 0.299 * skin[0] + 0.587 * skin[1] + 0.114 * skin[2]
    return (90, 30, 35) if luma >= 110 else (232, 136, 146)


def _draw_mouth(pen: _Pen, smile: float, open_: bool, cx: float, my: float, half: float, lips: tuple) -> None:
    """A curve with its corners raised by `smile` (lowered when negative); a smile also widens the
    mouth. Open, the same curve is the upper lip of a dark opening with teeth and a tongue, so
    Mouth_Slightly_Open and Smiling stay independent."""
    half *= (1.0 + 0.2 * max(smile, 0.0)) * (1.1 if open_ else 1.0)
    us = np.linspace(-1.0, 1.0, 15)
    top = [(cx + half * u, my + smile * half * (0.8 * (1 - u * u) - 0.45)) for u in us]
    if open_:
        depth = half * 0.7
        bottom = [(x, y + depth * (1 - u * u) ** 0.7) for (x, y), u in zip(top, us)]
        teeth = [(x, y + depth * 0.3 * (1 - u * u)) for (x, y), u in zip(top, us)]
        inner = [(x, y, u) for (x, y), u in zip(bottom, us) if abs(u) < 0.6]
        tongue = [(x, y) for x, y, _ in inner] + [(x, y - depth * 0.3 * (1 - (u / 0.6) ** 2))
                                                  for x, y, u in reversed(inner)]
        pen.polygon(top + bottom[::-1], fill=(92, 20, 34))
        pen.polygon(top + teeth[::-1], fill=(250, 250, 244))
        pen.polygon(tongue, fill=(226, 98, 112))
        pen.line(bottom, lips, 0.012)
    pen.line(top, lips, 0.018)


def _draw_glasses(pen: _Pen, t: dict[str, Any], g: dict[str, float]) -> None:
    """Thick frames in the person's style and colour, with faintly tinted lenses and temples to the
    ears: glasses must read as glasses at 32×32, not as two faint rings."""
    cx, ey, hw = g["cx"], g["eye_y"], g["hw"]
    es, er = float(t["eye_spacing"]), float(t["eye_size"])
    frame, width = _rgb(t["glasses_colour"]), 0.02
    r = min(er * 1.45 + 0.012, es * 0.9)
    rx, ry = (r, r * 0.94) if t["glasses_style"] == "round" else (r * 1.08, r * 0.8)
    tint = pen.overlay()
    for side in (-1, 1):
        ex = cx + side * es
        if t["glasses_style"] == "round":
            tint.ellipse(ex, ey, rx, ry, fill=(205, 230, 255, 80))
        else:
            tint.d.rounded_rectangle(tint.box(ex, ey, rx, ry), radius=tint.w(r * 0.25), fill=(205, 230, 255, 80))
    pen.composite(tint)
    for side in (-1, 1):
        ex = cx + side * es
        if t["glasses_style"] == "round":
            pen.ellipse(ex, ey, rx, ry, outline=frame, width=width)
        else:
            pen.d.rounded_rectangle(pen.box(ex, ey, rx, ry), radius=pen.w(r * 0.25), outline=frame,
                                    width=pen.w(width))
        pen.line([(ex + side * rx * 0.98, ey - ry * 0.3), (cx + side * hw * 0.99, ey - ry * 0.2)], frame, width * 0.8)
    pen.line([(cx - es + rx * 0.9, ey - ry * 0.2), (cx, ey - ry * 0.32), (cx + es - rx * 0.9, ey - ry * 0.2)],
             frame, width * 0.9)


def _draw_hat(pen: _Pen, t: dict[str, Any], g: dict[str, float]) -> None:
    """A beanie (cuff and pom-pom) or a cap (crown and visor) over the top of the head, in the
    person's hat colour; it stops above the eyes, so a hat edit leaves the eyes alone."""
    cx, hw, hh, top, hy = g["cx"], g["hw"], g["hh"], g["top"], g["hat_y"]
    colour = _rgb(t["hat_colour"])
    crown_top = top - hh * 0.16
    pen.d.chord(pen.box(cx, hy, hw * 1.13, hy - crown_top), 180, 360, fill=colour)
    if t["hat_style"] == "beanie":
        pen.d.rounded_rectangle([*pen.p(cx - hw * 1.16, hy - hh * 0.17), *pen.p(cx + hw * 1.16, hy + hh * 0.05)],
                                radius=pen.w(hh * 0.08), fill=_shade(colour, 0.78))
        for k in range(-3, 4):  # ribbing on the cuff
            x = cx + k * hw * 0.3
            pen.line([(x, hy - hh * 0.13), (x, hy + hh * 0.01)], _shade(colour, 0.64), 0.006)
        pen.ellipse(cx, crown_top, hw * 0.2, hw * 0.2, fill=_mix(colour, (255, 255, 255), 0.35))
    else:
        pen.d.chord(pen.box(cx, hy, hw * 1.04, hh * 0.12), 0, 180, fill=_shade(colour, 0.72))   # visor
        pen.line([(cx - hw * 1.1, hy), (cx + hw * 1.1, hy)], _shade(colour, 0.6), 0.01)
        pen.ellipse(cx, crown_top + hh * 0.02, hw * 0.09, hw * 0.06, fill=_shade(colour, 0.7))  # button


def _draw_figure(t: dict[str, Any], a: dict[str, Any], canvas: int) -> Image.Image:
    """The person on a transparent layer with margins, so shifts and rotations reveal no edges.
    The binary attributes are drawn after (on top of) the face, so flipping one changes only its own part."""
    side = int(canvas * 1.5)
    img = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    pen = _Pen(img, canvas, ((side - canvas) / 2, (side - canvas) / 2))
    g = _head_geometry(t)
    skin, hair = _rgb(t["skin"]), _rgb(t["hair_colour"])
    sweater = _rgb(t["sweater"])
    hat = bool(a["Wearing_Hat"])
    _draw_back_hair(pen, t, g, hair, hat)
    pen.d.rectangle(pen.box(0.5, g["cy"] + g["hh"] * 1.0, g["hw"] * 0.35, g["hh"] * 0.4), fill=_shade(skin, 0.85))
    pen.ellipse(0.5, 1.2, 0.42, 0.36, fill=sweater)                                   # shoulders
    pen.ellipse(0.5, 0.86, 0.09, 0.035, fill=_shade(sweater, 0.75))                   # collar
    _draw_face(pen, t, g, skin)
    _draw_front_hair(pen, t, g, hair, skin, hat)
    _draw_eyes(pen, t, g, skin, hair)
    _draw_nose_and_beard(pen, t, g, skin, hair)
    _draw_mouth(pen, smile_curve(a), bool(a["Mouth_Slightly_Open"]), g["cx"], g["mouth_y"], g["hw"] * 0.36,
                _lip_colour(skin))
    if a["Eyeglasses"]:
        _draw_glasses(pen, t, g)
    if hat:
        _draw_hat(pen, t, g)
    return img


def _pose(layer: Image.Image, a: dict[str, Any], canvas: int) -> Image.Image:
    """Rotate/scale about the face, shift, and crop the margin layer to the canvas (one resample)."""
    theta, s = math.radians(float(a["rotation"])), float(a["scale"])
    cin = layer.size[0] / 2
    pivot_in = (cin, cin - 0.03 * canvas)  # the face centre, not the picture centre
    pivot_out = (canvas / 2 + float(a["dx"]) * canvas, canvas / 2 - 0.03 * canvas + float(a["dy"]) * canvas)
    cos, sin = math.cos(theta) / s, math.sin(theta) / s
    # output (x, y) -> input: R(theta)⁻¹ · ((x, y) - pivot_out) / s + pivot_in, anticlockwise on screen
    a0, a1 = cos, -sin
    b0, b1 = sin, cos
    c = pivot_in[0] - a0 * pivot_out[0] - a1 * pivot_out[1]
    f = pivot_in[1] - b0 * pivot_out[0] - b1 * pivot_out[1]
    return layer.transform((canvas, canvas), Image.Transform.AFFINE, (a0, a1, c, b0, b1, f),
                           resample=Image.Resampling.BILINEAR)


def _light(img: Image.Image, a: dict[str, Any]) -> Image.Image:
    """A linear brightness ramp across the image: lighting direction and strength."""
    arr = np.asarray(img, dtype=np.float32)
    n = arr.shape[0]
    coords = (np.arange(n, dtype=np.float32) + 0.5) / n * 2 - 1
    ang, k = float(a["light_angle"]), float(a["light_strength"])
    ramp = 1.0 + k * (math.cos(ang) * coords[None, :] + math.sin(ang) * coords[:, None])
    return Image.fromarray(np.clip(arr * ramp[:, :, None] + 0.5, 0, 255).astype(np.uint8))


def render_face(traits: dict[str, Any], attrs: dict[str, Any], size: int) -> Image.Image:
    """One RGB face of `size`×`size`: identity from `traits`, pose/smile/light/background and the
    binary `ATTRIBUTES` from `attrs`."""
    canvas = max(CANVAS, size * 2)
    fig = _pose(_draw_figure(traits, attrs, canvas), attrs, canvas)
    bg = Image.new("RGBA", (canvas, canvas), _rgb(attrs["background"]) + (255,))
    img = Image.alpha_composite(bg, fig).convert("RGB")
    if canvas != size:
        img = img.resize((size, size), Image.Resampling.LANCZOS)
    return _light(img, attrs)


def _check_generator(manifest: dict[str, Any], who: str) -> None:
    """Refuse a manifest written by another generator version (or not by this generator at all),
    whose faces this code would not reproduce."""
    version = (manifest.get("config") or {}).get("generator_version")
    if manifest.get("kind") != "synthetic-faces" or version != GENERATOR_VERSION:
        raise ValueError(f"{who} needs a demo-faces manifest of generator version {GENERATOR_VERSION}; "
                         f"this one is kind {manifest.get('kind')!r}, version {version!r} (regenerate it)")


def _traits_of(manifest: dict[str, Any], cls: Any, item: dict[str, Any] | None = None) -> dict[str, Any]:
    traits = next((t for t in manifest["traits"] if t["index"] == cls), None)
    if traits is None:
        where = f" (item {item.get('file')})" if item is not None else ""
        raise ValueError(f"the manifest has no traits for class {cls!r}{where}")
    return traits


def render_item(manifest: dict[str, Any], item: dict[str, Any],
                changes: Mapping[str, float | bool | int] | None = None, size: int | None = None) -> Image.Image:
    """Redraw a manifest item, optionally with binary attributes changed (`with_attributes`), at
    `size` (default: the dataset's). With no changes it is pixel for pixel the item's PNG; with
    changes it is the exact ground truth of that edit: same person, pose, light and background.

    Refuses a manifest written by another generator version, whose faces this code would not
    reproduce."""
    _check_generator(manifest, "render_item")
    traits = _traits_of(manifest, item["class"], item)
    attrs = with_attributes(item["attributes"], changes or {})
    return render_face(traits, attrs, int(size if size is not None else manifest["size"]))


def render_swap(manifest: dict[str, Any], identity_class: int, attributes_item: dict[str, Any],
                size: int | None = None) -> Image.Image:
    """The exact ground truth of an identity swap: identity `identity_class`'s traits (face shape,
    skin, hair, eyes, … and the look of their glasses and hat) drawn with the per-image attributes
    of `attributes_item` (pose, scale, rotation, smile, light, background and whether glasses, a
    hat and an open mouth are there), at `size` (default: the dataset's).
    `render_swap(m, item["class"], item)` is pixel for pixel the item's PNG."""
    _check_generator(manifest, "render_swap")
    traits = _traits_of(manifest, identity_class)
    return render_face(traits, copy.deepcopy(dict(attributes_item["attributes"])),
                       int(size if size is not None else manifest["size"]))


# --------------------------------------------------------------------------- dataset on disk

def _config_record(cfg: DemoDataConfig) -> dict[str, Any]:
    """The config as the manifest records it (and `_is_current` compares it). `heldout_identities`
    and `heldout_per_class` are recorded only when set, so the record of every config written
    before they existed is unchanged and those datasets are not regenerated."""
    record = {**asdict(cfg), "generator_version": GENERATOR_VERSION}
    for name in ("heldout_identities", "heldout_per_class"):
        if not record[name]:
            del record[name]
    return record


def _is_current(out_dir: Path, cfg: DemoDataConfig) -> bool:
    """True when `out_dir` already holds this exact dataset (manifest matches, files present)."""
    import json

    try:
        manifest = json.loads((out_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(manifest, dict) or manifest.get("config") != _config_record(cfg):
        return False
    items = manifest.get("items", [])
    extra = 1 if cfg.shared_looks else 0
    total = sum(cfg.images_of(i) + extra for i in range(cfg.num_classes))
    return len(items) == total and all((out_dir / it["file"]).is_file() for it in items)


def write_demo_dataset(out_dir: Path, cfg: DemoDataConfig,
                       progress: Callable[[int, int], None] | None = None) -> Path:
    """Write `out_dir/<class folder>/<nnnn>.png` and `dataset.json`; return `out_dir`.

    A no-op when `out_dir` already holds the same config (so reruns keep mtimes and the decode
    cache stays valid). The manifest is written last, so an interrupted run is simply redone."""
    out_dir = Path(out_dir)
    if cfg.num_classes < 1 or cfg.per_class < 1 or cfg.size < 8:
        raise ValueError(f"demo dataset needs ≥1 class, ≥1 image per class and size ≥ 8, got {cfg}")
    if not 0 <= cfg.heldout_identities < cfg.num_classes:
        raise ValueError(f"heldout_identities must be 0..{cfg.num_classes - 1} (at least one identity to "
                         f"train on), got {cfg.heldout_identities}")
    if cfg.heldout_identities and cfg.shared_looks:
        raise ValueError("heldout_identities (open-set identities) and shared_looks (held-out looks) are "
                         "separate variants; choose one")
    if cfg.heldout_per_class < 0 or (cfg.heldout_per_class and not cfg.heldout_identities):
        raise ValueError(f"heldout_per_class needs heldout_identities and must be ≥ 0, got {cfg.heldout_per_class}")
    if _is_current(out_dir, cfg):
        return out_dir
    traits = identity_traits(cfg)
    n_test = max(1, round(cfg.per_class * TEST_FRACTION)) if cfg.per_class >= 2 else 0
    looks = [look_attributes(np.random.default_rng([cfg.seed, LOOK_STREAM, j])) for j in range(cfg.per_class)] \
        if cfg.shared_looks else []
    classes, items = [], []
    extra = 1 if cfg.shared_looks else 0
    total, done = sum(cfg.images_of(t["index"]) + extra for t in traits), 0
    first_heldout = cfg.num_classes - cfg.heldout_identities
    for t in traits:
        folder = f"{t['index']:02d}_{t['name'].replace(' ', '_')}"
        (out_dir / folder).mkdir(parents=True, exist_ok=True)
        per_class = cfg.images_of(t["index"]) + extra
        classes.append({"index": t["index"], "name": t["name"], "folder": folder, "count": per_class})
        for j in range(per_class):
            if not cfg.shared_looks:
                attrs = sample_attributes(np.random.default_rng([cfg.seed, t["index"], j]))
                rel, style = f"{folder}/{j:04d}.png", None
                if cfg.heldout_identities:  # open set: split by identity, not by image
                    split = "test" if t["index"] >= first_heldout else "train"
                else:
                    split = "test" if j >= cfg.per_class - n_test else "train"
            elif j < cfg.per_class:
                attrs, style = looks[j], f"{j:04d}"
                rel, split = f"{folder}/look_{style}.png", "test" if j % LOOK_TEST_EVERY == 0 else "train"
            else:
                attrs, rel, split, style = look_attributes(None), f"{folder}/{NEUTRAL_LOOK}.png", "train", NEUTRAL_LOOK
            with atomic_path(out_dir / rel) as tmp:
                render_face(t, attrs, cfg.size).save(tmp, format="PNG")
            item = {"file": rel, "class": t["index"], "split": split,
                    "target": [1.0 if attrs[name] else 0.0 for name in ATTRIBUTES], "attributes": attrs}
            if style is not None:
                item["style"] = style
            items.append(item)
            done += 1
            if progress:
                progress(done, total)
    extras: dict[str, Any] = {}
    if cfg.shared_looks:
        extras = {"styles": {"name": "look", "reference": NEUTRAL_LOOK}, "flip": False}
    if cfg.heldout_identities:
        extras = {"heldout_identities": [t["index"] for t in traits[first_heldout:]]}
    manifest = new_manifest(kind="synthetic-faces", classes=classes, items=items, traits=traits,
                            seed=cfg.seed, size=cfg.size, config=_config_record(cfg),
                            targets={"names": list(ATTRIBUTES), "values": "1 = present, 0 = absent"},
                            attributes_note="per-image attributes vary within a class; traits do not; "
                                            "render_item redraws an item with targets flipped", **extras)
    atomic_write_json(out_dir / MANIFEST_NAME, manifest)
    return out_dir

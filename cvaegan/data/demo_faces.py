"""The demo's built-in dataset: procedural cartoon faces of a few fixed identities.

It mirrors what CVAE-GAN is about without any download. Each class is one "person" whose traits
(face shape, skin, hair colour and style, eyes, nose, glasses, beard, sweater) never change; each
image draws fresh per-image attributes (pose shift, scale, rotation, smile, lighting, background)
that the label does not explain, i.e. what the model's latent z has to carry.

Faces are drawn with PIL at about 256 px and downscaled with LANCZOS, so they stay anti-aliased and
readable at 32 and 64 px. Everything is a pure function of the seed: the same config gives
byte-identical PNGs.
"""

from __future__ import annotations

import colorsys
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from cvaegan.data.manifest import MANIFEST_NAME, new_manifest
from cvaegan.runtime.atomic import atomic_path, atomic_write_json

GENERATOR_VERSION = 1  # bump when the drawing changes, so old datasets are regenerated
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


@dataclass
class DemoDataConfig:
    num_classes: int = 8
    per_class: int = 200
    size: int = 64
    seed: int = 0


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
    out = []
    for i in range(cfg.num_classes):
        lap = i // len(HAIR)  # past the palette size, shift the other palettes so pairs stay unique
        hair_name = hair_names[perm_hair[i % len(HAIR)]]
        style = STYLES[perm_style[(i + lap) % len(STYLES)]]
        eye_name = list(EYES)[perm_eye[i % len(EYES)]]
        glasses = ["none", "round", "square"][int(rng.integers(3))] if rng.random() < 0.45 else "none"
        beard = bool(style == "bald" or rng.random() < 0.2)
        out.append({
            "index": i,
            "name": class_name(i),
            "skin": list(SKIN[perm_skin[(i + 2 * lap) % len(SKIN)]]),
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
            "glasses": glasses,
            "beard": beard,
            "sweater": list(SWEATER[perm_sweater[(i + lap) % len(SWEATER)]]),
        })
    return out


def sample_attributes(rng: np.random.Generator) -> dict[str, Any]:
    """Per-image attributes that vary within a class: what the label does not explain."""
    h, s, v = rng.random(), rng.uniform(0.15, 0.5), rng.uniform(0.55, 0.95)
    return {
        "dx": round(float(rng.uniform(-0.08, 0.08)), 4),        # pose shift, fraction of the image
        "dy": round(float(rng.uniform(-0.06, 0.06)), 4),
        "scale": round(float(rng.uniform(0.88, 1.08)), 4),
        "rotation": round(float(rng.uniform(-12.0, 12.0)), 3),  # degrees, anticlockwise
        "smile": round(float(rng.uniform(-0.4, 1.0)), 4),       # <0 frown, >0.6 open grin
        "light_angle": round(float(rng.uniform(0.0, 2 * math.pi)), 4),
        "light_strength": round(float(rng.uniform(0.0, 0.4)), 4),
        "background": [round(c * 255) for c in colorsys.hsv_to_rgb(h, s, v)],
    }


# --------------------------------------------------------------------------- drawing

def _rgb(c: Any) -> tuple[int, int, int]:
    return (int(c[0]), int(c[1]), int(c[2]))


def _shade(c: Any, f: float) -> tuple[int, int, int]:
    return tuple(int(max(0, min(255, round(v * f)))) for v in c)  # type: ignore[return-value]


class _Pen:
    """Draws in canvas units (0..1 across the figure) on the supersampled RGBA layer."""

    def __init__(self, img: Image.Image, unit: float, origin: tuple[float, float]) -> None:
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


def _head_geometry(t: dict[str, Any]) -> dict[str, float]:
    hw = float(t["head_width"])
    hh = hw * float(t["face_aspect"])
    return {"cx": 0.5, "cy": 0.47, "hw": hw, "hh": hh, "top": 0.47 - hh, "brow_y": 0.47 - 0.1 * hh}


def _draw_back_hair(pen: _Pen, t: dict[str, Any], g: dict[str, float], hair: tuple) -> None:
    cx, cy, hw, hh = g["cx"], g["cy"], g["hw"], g["hh"]
    if t["hair_style"] == "long":
        pen.polygon([(cx - hw * 1.18, cy - hh * 0.3), (cx + hw * 1.18, cy - hh * 0.3),
                     (cx + hw * 1.3, cy + hh * 1.25), (cx - hw * 1.3, cy + hh * 1.25)], hair)
    if t["hair_style"] == "bun":
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


def _draw_front_hair(pen: _Pen, t: dict[str, Any], g: dict[str, float], hair: tuple) -> None:
    cx, cy, hw, hh, top = g["cx"], g["cy"], g["hw"], g["hh"], g["top"]
    style = t["hair_style"]
    if style == "bald":
        pen.ellipse(cx - hw * 0.35, top + hh * 0.22, hw * 0.18, hh * 0.07, fill=(255, 255, 255, 110))
        return
    line = cy - hh * (0.55 if style != "fringe" else 0.35)
    pen.d.chord(pen.box(cx, line, hw * 1.04, line - top + hh * 0.04), 180, 360, fill=hair)
    if style == "fringe":
        n = 5
        for k in range(n):
            x0 = cx - hw * 0.95 + k * (1.9 * hw / n)
            pen.polygon([(x0, line - 0.01), (x0 + 1.9 * hw / n, line - 0.01),
                         (x0 + 0.95 * hw / n, line + hh * 0.22)], hair)
    if style == "spiky":
        n = 6
        for k in range(n):
            x0 = cx - hw * 0.95 + k * (1.9 * hw / n)
            pen.polygon([(x0, top + hh * 0.15), (x0 + 1.9 * hw / n, top + hh * 0.15),
                         (x0 + 0.95 * hw / n + (k - n / 2) * 0.01, top - hh * 0.32)], hair)
    if style == "long":
        for side in (-1, 1):
            pen.ellipse(cx + side * hw * 0.92, cy - hh * 0.25, hw * 0.22, hh * 0.5, fill=hair)


def _draw_features(pen: _Pen, t: dict[str, Any], a: dict[str, Any], g: dict[str, float],
                   skin: tuple, hair: tuple) -> None:
    cx, cy, hw, hh = g["cx"], g["cy"], g["hw"], g["hh"]
    ey, es, er = cy - hh * 0.02, float(t["eye_spacing"]), float(t["eye_size"])
    dark = (30, 24, 30)
    if t["blush"]:
        for side in (-1, 1):
            pen.ellipse(cx + side * (es + er * 0.9), ey + er * 2.2, er * 0.9, er * 0.5, fill=(240, 120, 130, 120))
    for side in (-1, 1):
        ex = cx + side * es
        pen.ellipse(ex, ey, er, er * 1.08, fill=(255, 255, 255))
        pen.ellipse(ex, ey + er * 0.1, er * 0.68, er * 0.72, fill=_rgb(t["eye_colour"]))
        pen.ellipse(ex, ey + er * 0.12, er * 0.34, er * 0.36, fill=dark)
        pen.ellipse(ex - er * 0.25, ey - er * 0.2, er * 0.2, er * 0.2, fill=(255, 255, 255))
        by = ey - er * 1.7
        pen.line([(ex - er * 1.1, by + side * 0 + 0.004), (ex, by - 0.006), (ex + er * 1.1, by + 0.004)],
                 _shade(hair, 0.8) if t["hair_style"] != "bald" else _shade(skin, 0.55), float(t["brow"]))
    ns = float(t["nose_size"])
    ny = ey + er + ns * 0.9
    pen.ellipse(cx, ny, ns * 0.8, ns * 0.6, fill=_shade(skin, 0.82))
    if t["beard"]:
        jaw = float(t["jaw"])
        pen.d.chord(pen.box(cx, cy + hh * 0.2, hw * jaw * 1.02, hh * 0.82), 0, 180, fill=hair)
        pen.ellipse(cx, cy + hh * 0.5, hw * 0.42, hh * 0.14, fill=skin)
    _draw_mouth(pen, float(a["smile"]), cx, cy + hh * 0.5, hw * 0.36)
    if t["glasses"] != "none":
        for side in (-1, 1):
            ex, r = cx + side * es, er * 1.55
            if t["glasses"] == "round":
                pen.ellipse(ex, ey, r, r, outline=dark, width=0.011)
            else:
                pen.d.rectangle(pen.box(ex, ey, r * 1.1, r * 0.85), outline=dark, width=pen.w(0.011))
        pen.line([(cx - es + er * 1.5, ey), (cx + es - er * 1.5, ey)], dark, 0.011)


def _draw_mouth(pen: _Pen, smile: float, cx: float, my: float, half: float) -> None:
    """A curve whose sag is the smile; a big smile becomes an open grin."""
    pts = [(cx + half * u, my - smile * half * 0.45 * (1 - u * u) + abs(smile) * half * 0.1)
           for u in np.linspace(-1.0, 1.0, 13)]
    if smile > 0.6:
        pen.polygon(pts + [pts[0]], fill=(120, 30, 40))
        pen.polygon([(cx - half * 0.5, my - smile * half * 0.2), (cx + half * 0.5, my - smile * half * 0.2),
                     (cx, my - smile * half * 0.42)], fill=(235, 110, 120))
    pen.line(pts, (90, 30, 35), 0.012)


def _draw_figure(t: dict[str, Any], a: dict[str, Any], canvas: int) -> Image.Image:
    """The person on a transparent layer with margins, so shifts and rotations reveal no edges."""
    side = int(canvas * 1.5)
    img = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    pen = _Pen(img, canvas, ((side - canvas) / 2, (side - canvas) / 2))
    g = _head_geometry(t)
    skin, hair = _rgb(t["skin"]), _rgb(t["hair_colour"])
    sweater = _rgb(t["sweater"])
    _draw_back_hair(pen, t, g, hair)
    pen.d.rectangle(pen.box(0.5, g["cy"] + g["hh"] * 1.0, g["hw"] * 0.35, g["hh"] * 0.4), fill=_shade(skin, 0.85))
    pen.ellipse(0.5, 1.2, 0.42, 0.36, fill=sweater)                                   # shoulders
    pen.ellipse(0.5, 0.86, 0.09, 0.035, fill=_shade(sweater, 0.75))                   # collar
    _draw_face(pen, t, g, skin)
    _draw_front_hair(pen, t, g, hair)
    _draw_features(pen, t, a, g, skin, hair)
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
    """One RGB face of `size`×`size`: identity from `traits`, pose/smile/light/background from `attrs`."""
    canvas = max(CANVAS, size * 2)
    fig = _pose(_draw_figure(traits, attrs, canvas), attrs, canvas)
    bg = Image.new("RGBA", (canvas, canvas), _rgb(attrs["background"]) + (255,))
    img = Image.alpha_composite(bg, fig).convert("RGB")
    if canvas != size:
        img = img.resize((size, size), Image.Resampling.LANCZOS)
    return _light(img, attrs)


# --------------------------------------------------------------------------- dataset on disk

def _config_record(cfg: DemoDataConfig) -> dict[str, Any]:
    return {**asdict(cfg), "generator_version": GENERATOR_VERSION}


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
    return len(items) == cfg.num_classes * cfg.per_class and all((out_dir / it["file"]).is_file() for it in items)


def write_demo_dataset(out_dir: Path, cfg: DemoDataConfig,
                       progress: Callable[[int, int], None] | None = None) -> Path:
    """Write `out_dir/<class folder>/<nnnn>.png` and `dataset.json`; return `out_dir`.

    A no-op when `out_dir` already holds the same config (so reruns keep mtimes and the decode
    cache stays valid). The manifest is written last, so an interrupted run is simply redone."""
    out_dir = Path(out_dir)
    if cfg.num_classes < 1 or cfg.per_class < 1 or cfg.size < 8:
        raise ValueError(f"demo dataset needs ≥1 class, ≥1 image per class and size ≥ 8, got {cfg}")
    if _is_current(out_dir, cfg):
        return out_dir
    traits = identity_traits(cfg)
    n_test = max(1, round(cfg.per_class * TEST_FRACTION)) if cfg.per_class >= 2 else 0
    classes, items = [], []
    total, done = cfg.num_classes * cfg.per_class, 0
    for t in traits:
        folder = f"{t['index']:02d}_{t['name'].replace(' ', '_')}"
        (out_dir / folder).mkdir(parents=True, exist_ok=True)
        classes.append({"index": t["index"], "name": t["name"], "folder": folder, "count": cfg.per_class})
        for j in range(cfg.per_class):
            attrs = sample_attributes(np.random.default_rng([cfg.seed, t["index"], j]))
            rel = f"{folder}/{j:04d}.png"
            with atomic_path(out_dir / rel) as tmp:
                render_face(t, attrs, cfg.size).save(tmp, format="PNG")
            items.append({"file": rel, "class": t["index"],
                          "split": "test" if j >= cfg.per_class - n_test else "train", "attributes": attrs})
            done += 1
            if progress:
                progress(done, total)
    manifest = new_manifest(kind="synthetic-faces", classes=classes, items=items, traits=traits,
                            seed=cfg.seed, size=cfg.size, config=_config_record(cfg),
                            attributes_note="per-image attributes vary within a class; traits do not")
    atomic_write_json(out_dir / MANIFEST_NAME, manifest)
    return out_dir

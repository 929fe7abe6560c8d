"""Small datasets made by the tests themselves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

COLOURS = [(220, 40, 40), (40, 180, 60), (40, 80, 220), (230, 200, 40)]


def make_shapes_dataset(root: Path, classes: int = 3, per_class: int = 12, size: int = 40, seed: int = 0) -> Path:
    """Class k: a shape of colour k on a random background at a random position."""
    rng = np.random.default_rng(seed)
    for k in range(classes):
        d = root / f"class_{k}"
        d.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            bg = tuple(int(v) for v in rng.integers(0, 90, 3))
            im = Image.new("RGB", (size, size), bg)
            dr = ImageDraw.Draw(im)
            x, y = rng.integers(4, size // 2, 2)
            s = size // 3
            box = (int(x), int(y), int(x) + s, int(y) + s)
            (dr.ellipse if k % 2 else dr.rectangle)(box, fill=COLOURS[k % len(COLOURS)])
            im.save(d / f"{i:03d}.png")
    return root

"""Decoding rules shared by every image reader (train's loader, `prepare`, the applications).

Kept free of torch so that `prepare`'s worker processes can import it and start quickly.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

# Larger images are treated as decompression bombs (PIL raises DecompressionBombWarning/Error).
Image.MAX_IMAGE_PIXELS = 16_000 * 16_000


def to_rgb(im: Image.Image) -> Image.Image:
    """Any PIL mode as 8-bit RGB: 16-bit grey rescaled to its own range, transparency composited
    on white (a black background would change the subject's apparent colour)."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(im, dtype=np.float64)
        im = Image.fromarray(np.clip(arr / max(arr.max(), 1.0) * 255.0, 0, 255).astype(np.uint8))
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        im = im.convert("RGBA")
        bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
        return Image.alpha_composite(bg, im).convert("RGB")
    return im.convert("RGB")

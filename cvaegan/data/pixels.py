"""Decoding rules shared by every image reader (train's loader, `prepare`, the applications).

Kept free of torch so that `prepare`'s worker processes can import it and start quickly.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

# Larger images are treated as decompression bombs (every reader turns PIL's warning into an error,
# raised at open, before decoding). 64 Mpx holds any camera photo up to 8000×8000 (~190 MB as RGB);
# the 256 Mpx allowed before let a 219 KB PNG cost 2.1 GB and 17 s, once per worker process.
Image.MAX_IMAGE_PIXELS = 64_000_000


def to_rgb(im: Image.Image) -> Image.Image:
    """Any PIL mode as 8-bit RGB: 16-bit grey rescaled to its own range, transparency composited
    on white (a black background would change the subject's apparent colour)."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(im, dtype=np.float64)
        im = Image.fromarray(np.clip(arr / max(arr.max(), 1.0) * 255.0, 0, 255).astype(np.uint8))
    elif im.mode == "F":  # float TIFFs: [0, 1] as is (convert() would clip them to black), else own range
        arr = np.nan_to_num(np.asarray(im, dtype=np.float64))
        lo, hi = float(arr.min(initial=0.0)), float(arr.max(initial=0.0))
        if lo < 0.0 or hi > 1.0:
            arr = (arr - lo) / max(hi - lo, 1e-12)
        im = Image.fromarray(np.clip(arr * 255.0, 0, 255).round().astype(np.uint8))
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        im = im.convert("RGBA")
        bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
        return Image.alpha_composite(bg, im).convert("RGB")
    return im.convert("RGB")

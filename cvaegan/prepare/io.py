"""Reading raw photos for `prepare` (and `morph`/`inpaint` on raw photos).

Every failure becomes a `PhotoError` with a short machine-readable `reason` (unreadable,
not_an_image, truncated, corrupt, decompression_bomb) so that the runner can record it in
`rejects.jsonl` and carry on. Coordinates are always those of the photo *after* EXIF orientation.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from cvaegan.data.pixels import to_rgb
from cvaegan.runtime.errors import CvaeganError


class PhotoError(CvaeganError):
    """A photo that cannot be used; `reason` is the rejects.jsonl code."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


@dataclass
class Photo:
    """Decoded RGB pixels, possibly decoded at 1/scale of the full size (JPEG draft mode).

    A point (x, y) in `rgb` is ((x + 0.5) * scale - 0.5, (y + 0.5) * scale - 0.5) in the full photo."""

    rgb: np.ndarray          # (h, w, 3) uint8
    scale: int               # 1, 2, 4 or 8
    full_size: tuple[int, int]  # (width, height) of the full photo, EXIF-oriented


def read_photo(path: str | os.PathLike[str], *, min_long_side: int | None = None) -> Photo:
    """Decode `path` as RGB. With `min_long_side`, a JPEG may be decoded at 1/2, 1/4 or 1/8 of its size
    (libjpeg's DCT scaling, several times faster than a full decode) as long as its long side stays
    at least that long."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                full_w, full_h = im.size
                transposed = _exif_swaps_axes(im)
                scale = 1
                if min_long_side and im.format == "JPEG" and max(full_w, full_h) >= 2 * min_long_side:
                    ratio = max(full_w, full_h) / min_long_side
                    im.draft("RGB", (math.ceil(full_w / ratio), math.ceil(full_h / ratio)))
                    scale = max(1, round(full_w / im.size[0]))
                im.load()
                im = ImageOps.exif_transpose(im)
                rgb = np.asarray(to_rgb(im), dtype=np.uint8)
    except FileNotFoundError as exc:
        raise PhotoError("unreadable", f"{path}: no such file") from exc
    except PermissionError as exc:
        raise PhotoError("unreadable", f"{path}: permission denied") from exc
    except IsADirectoryError as exc:
        raise PhotoError("unreadable", f"{path}: is a directory") from exc
    except UnidentifiedImageError as exc:
        raise PhotoError("not_an_image", f"{path}: not an image file") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise PhotoError("decompression_bomb", f"{path}: too many pixels ({exc})".splitlines()[0]) from exc
    except OSError as exc:
        reason = "truncated" if "truncated" in str(exc).lower() else "corrupt"
        raise PhotoError(reason, f"{path}: {exc}".splitlines()[0][:200]) from exc
    except (ValueError, SyntaxError, MemoryError, EOFError) as exc:
        raise PhotoError("corrupt", f"{path}: {type(exc).__name__}: {exc}".splitlines()[0][:200]) from exc
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.size == 0:
        raise PhotoError("corrupt", f"{path}: decoded to an unexpected shape {rgb.shape}")
    size = (full_h, full_w) if transposed else (full_w, full_h)
    return Photo(np.ascontiguousarray(rgb), scale, size)


def load_photo(path: str | os.PathLike[str]) -> np.ndarray:
    """The full photo as (H, W, 3) uint8 RGB: EXIF orientation applied; grayscale, palette, RGBA
    (composited on white) and 16-bit converted; decompression bombs refused. Raises PhotoError."""
    return read_photo(path).rgb


def _exif_swaps_axes(im: Image.Image) -> bool:
    try:
        return im.getexif().get(0x0112, 1) in (5, 6, 7, 8)
    except Exception:  # noqa: BLE001 — a broken EXIF block just means "no orientation"
        return False

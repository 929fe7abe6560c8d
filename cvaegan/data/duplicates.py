"""Near-duplicate images: one photo saved twice, re-encoded, re-cropped by a pixel or mirrored.

A held-out image whose twin is in the training split is not held out: a model that memorised the
twin reconstructs it, and a judge reads it, better than a new photo, so held-out numbers come out
flattered. Scraped face sets hold such twins (the shared glint crops: seven identical pairs of one
person, and more pairs above 30 dB), so a split written here keeps every group of twins on one
side. Images are compared within a class only (a twin across classes is a labelling problem, not
a split one), small (`SIZE` px, where two distinct photos of one person stay far below the
threshold) and also mirrored, as training flips images.
"""

from __future__ import annotations

import numpy as np

DUPLICATE_PSNR_DB = 30.0  # re-encodings of one photo sit at 30-40 dB or exact, and two renders of one
                          # Chars74K font at 37-39 dB; distinct photos of one person at 32 px, and
                          # distinct fonts, at 25 dB or less
SIZE = 32


def sq_distances(x: np.ndarray, y: np.ndarray | None = None) -> np.ndarray:
    """Squared L2 distances (N, M) between the rows of x (N, D) and of y (M, D; x itself when
    None), in float32 by the Gram trick, on values centred on x's mean so that it loses little to
    rounding."""
    centre = x.mean(0)
    a = x - centre
    b = a if y is None else y - centre
    return np.maximum((a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * (a @ b.T), 0)


def twin_limit(values: int | np.ndarray, psnr_db: float = DUPLICATE_PSNR_DB) -> float | np.ndarray:
    """The largest sum of squared differences over `values` 8-bit values of two images within
    `psnr_db` of each other."""
    return 255.0 ** 2 / 10 ** (psnr_db / 10) * values


def near_duplicate_pairs(images: np.ndarray, groups: np.ndarray, psnr_db: float = DUPLICATE_PSNR_DB,
                         mirror: bool = True) -> list[tuple[int, int]]:
    """(i, j), i < j, of images (N, H, W, C) uint8 in the same group (class) within `psnr_db` of each
    other, or of each other's mirror image when `mirror`."""
    x = images.astype(np.float32).reshape(len(images), -1)
    xm = images[:, :, ::-1].astype(np.float32).reshape(len(images), -1)
    limit = twin_limit(x.shape[1], psnr_db)
    pairs: list[tuple[int, int]] = []
    for g in np.unique(groups):
        idx = np.flatnonzero(groups == g)
        if len(idx) < 2:
            continue
        d = sq_distances(x[idx])
        if mirror:
            d = np.minimum(d, sq_distances(x[idx], xm[idx]))
        for i, j in zip(*np.nonzero(np.triu(d <= limit, 1))):
            pairs.append((int(idx[i]), int(idx[j])))
    return pairs


def keep_twins_together(split: list[str], pairs: list[tuple[int, int]]) -> int:
    """Move to "train", in place, every "test" item that is linked by `pairs` (directly or through
    other twins) to a "train" item. Returns how many moved."""
    parent = list(range(len(split)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in pairs:
        parent[root(i)] = root(j)
    has_train = {root(i) for i, s in enumerate(split) if s == "train"}
    moved = 0
    for i, s in enumerate(split):
        if s == "test" and root(i) in has_train:
            split[i] = "train"
            moved += 1
    return moved

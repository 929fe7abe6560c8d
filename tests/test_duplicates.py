"""Near-duplicate detection for held-out splits (`cvaegan.data.duplicates`): a copy, a mirrored
copy and a re-encoding within a few grey levels are twins; a different photo, or a copy filed
under another class, is not; and a split keeps each group of twins on the training side."""

from __future__ import annotations

import numpy as np

from cvaegan.data.duplicates import keep_twins_together, near_duplicate_pairs


def _photos(n: int, seed: int = 0) -> np.ndarray:
    """Smooth random images (as photos are at 32 px), so that distinct ones are far apart."""
    rng = np.random.default_rng(seed)
    low = rng.integers(0, 256, (n, 4, 4, 3)).astype(np.float32)
    return np.clip(low.repeat(8, 1).repeat(8, 2), 0, 255).astype(np.uint8)


def test_copies_mirrors_and_reencodings_are_twins_other_photos_are_not():
    base = _photos(4)
    rng = np.random.default_rng(1)
    noisy = np.clip(base[0].astype(np.int16) + rng.integers(-3, 4, base[0].shape), 0, 255).astype(np.uint8)
    heavy = np.clip(base[0].astype(np.int16) + rng.integers(-60, 61, base[0].shape), 0, 255).astype(np.uint8)
    images = np.stack([base[0], base[1], base[0], base[1][:, ::-1], noisy, heavy, base[2], base[3]])
    images[7] = base[0]                             # image 0's photo filed under another class
    groups = np.array([0, 0, 0, 0, 0, 0, 0, 1])
    pairs = set(near_duplicate_pairs(images, groups))
    assert pairs == {(0, 2), (0, 4), (2, 4), (1, 3)}
    assert (1, 3) not in set(near_duplicate_pairs(images, groups, mirror=False))
    assert not any(5 in p or 6 in p or 7 in p for p in pairs)  # ~17 dB of noise, another photo, another class


def test_a_split_keeps_each_group_of_twins_on_the_training_side():
    split = ["train", "test", "test", "test", "test", "train"]
    moved = keep_twins_together(split, [(0, 1), (1, 2), (3, 4)])   # 0-1-2 linked to train; 3-4 only test
    assert moved == 2 and split == ["train", "train", "train", "test", "test", "train"]
    assert keep_twins_together(split, []) == 0

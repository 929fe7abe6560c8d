"""One training batch, as the data layer hands it to a family's training step.

Which kind a family gets is its `Family.batch`:
  labeled  x with its class labels y, and per-item target vectors when the dataset has them
           (named binary attributes, say) — every family so far;
  pairs    as labeled, plus a partner image for each x: half of them another image of the same
           class, half an image of another class (identity-preserving models train on such pairs);
  styled   as labeled, plus a style image for each x: another image of x's style group (its font)
           showing another class, or x itself when the data has no style groups (style transfer).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

BATCH_KINDS = ("labeled", "pairs", "styled")


@dataclass
class Batch:
    x: Tensor                       # (N, 3, R, R) in [-1, 1]
    y: Tensor                       # (N,) class indices
    target: Tensor | None = None    # (N, D) per-item vectors, when the dataset carries them
    x_pair: Tensor | None = None    # kinds "pairs"/"styled": (N, 3, R, R) partner / style images
    y_pair: Tensor | None = None    # their classes

    @property
    def same(self) -> Tensor:
        """Kind "pairs": whether each pair shows the same class."""
        if self.y_pair is None:
            raise ValueError("not a batch of pairs")
        return self.y == self.y_pair

"""The condition c a model is given, described once and stored in its checkpoint.

  class       a probability vector over K named classes: one-hot for a real class (CVAE-GAN's c),
              a convex mixture for a new identity (augment, morph between classes);
  attributes  a multi-hot vector of named binary attributes (attribute editing: Smiling, …);
  embedding   a D-dimensional vector computed from a reference image (identity swap, style).

Every c the product builds comes from here, so a mixture is always a probability vector and an
attribute vector always 0/1, whatever command builds it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

KINDS = ("class", "attributes", "embedding")


@dataclass(frozen=True)
class ConditionSpec:
    kind: str
    names: tuple[str, ...] = ()
    dim: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"condition kind must be one of {KINDS}, got {self.kind!r}")
        if not isinstance(self.names, tuple) or not all(isinstance(n, str) for n in self.names):
            raise ValueError("condition names must be a tuple of strings")
        if self.kind == "embedding":
            if self.names or type(self.dim) is not int or self.dim < 1:
                raise ValueError("an embedding condition has a dimension ≥ 1 and no names")
        else:
            if not self.names or self.dim != len(self.names):
                raise ValueError(f"a {self.kind} condition names each of its {self.dim} dimensions")
            if self.kind == "attributes" and len(set(self.names)) != len(self.names):
                raise ValueError("attribute names must be distinct")  # (a class is its index; names only label it)

    @classmethod
    def classes(cls, names: Sequence[str]) -> "ConditionSpec":
        return cls("class", tuple(names), len(names))

    @classmethod
    def attributes(cls, names: Sequence[str]) -> "ConditionSpec":
        return cls("attributes", tuple(names), len(names))

    @classmethod
    def embedding(cls, dim: int) -> "ConditionSpec":
        return cls("embedding", (), dim)

    def one_hot(self, labels: Tensor) -> Tensor:
        """Class vectors of integer labels (see `one_hot`)."""
        self._need("class")
        return one_hot(labels, self.dim)

    def mixture(self, weights: Tensor) -> Tensor:
        """A convex mixture of classes: non-negative weights over the K classes, normalised to sum 1."""
        self._need("class")
        w = torch.as_tensor(weights, dtype=torch.float32)
        if w.shape[-1] != self.dim or not bool(torch.isfinite(w).all()) or bool((w < 0).any()):
            raise ValueError(f"a class mixture is {self.dim} finite non-negative weights")
        total = w.sum(-1, keepdim=True)
        if bool((total <= 0).any()):
            raise ValueError("a class mixture needs a positive weight")
        return w / total

    def multi_hot(self, on: Sequence[str] | Tensor) -> Tensor:
        """Attribute vector from the names that are on, or from a 0/1 tensor (checked)."""
        self._need("attributes")
        if isinstance(on, Tensor):
            v = on.float()
            if v.shape[-1] != self.dim or not bool(((v == 0) | (v == 1)).all()):
                raise ValueError(f"an attribute vector is {self.dim} values of 0 or 1")
            return v
        unknown = [n for n in on if n not in self.names]
        if unknown:
            raise ValueError(f"unknown attribute(s) {', '.join(unknown)}; known: {', '.join(self.names)}")
        return torch.tensor([float(n in on) for n in self.names])

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "names": list(self.names), "dim": self.dim}

    @classmethod
    def from_dict(cls, d: Any) -> "ConditionSpec":
        if not isinstance(d, dict) or not isinstance(d.get("names", []), list):
            raise ValueError("a condition is a dict with 'kind', 'names' (a list) and 'dim'")
        return cls(d.get("kind"), tuple(d.get("names", [])), d.get("dim"))

    def _need(self, kind: str) -> None:
        if self.kind != kind:
            raise ValueError(f"this model's condition is {self.kind}, not {kind}")


def one_hot(labels: Tensor, num_classes: int) -> Tensor:
    """Float class vectors of integer labels (any shape; a trailing dim of K is added). Built with
    scatter (which bounds-checks in its kernel) rather than F.one_hot, whose CPU path reads min/max
    back to the host (a sync per training step)."""
    out = torch.zeros(*labels.shape, num_classes, device=labels.device)
    return out.scatter_(-1, labels.unsqueeze(-1), 1.0)

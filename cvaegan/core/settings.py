"""What every family's loss and optimiser settings share: checks of their numeric fields, and
presets — named (loss, optimiser) starting points that `--set`-style overrides modify by field
name."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Any


def check_weights(obj: Any, names: tuple[str, ...]) -> None:
    """Each named field is a finite number ≥ 0 (a loss weight); ValueError names the first that is not."""
    for name in names:
        v = getattr(obj, name)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            raise ValueError(f"{name} must be a finite number ≥ 0, got {v!r}")


def check_adam(obj: Any, lrs: tuple[str, ...]) -> None:
    """Learning rates finite and > 0, Adam's `beta1`, `beta2` in [0, 1)."""
    for name in lrs:
        v = getattr(obj, name)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
            raise ValueError(f"{name} must be a finite number > 0, got {v!r}")
    for name in ("beta1", "beta2"):
        v = getattr(obj, name)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < 1:
            raise ValueError(f"{name} must be in [0, 1), got {v!r}")


@dataclass(frozen=True)
class Preset:
    """A named starting point: a family's loss config and optimiser config."""

    loss: Any
    optim: Any
    summary: str


def from_preset(presets: dict[str, Preset], name: str, overrides: dict[str, Any]) -> tuple[Any, Any]:
    """The preset's loss and optimiser configs with some fields replaced (by field name, either
    config's). ValueError for an unknown preset or field, or an invalid value."""
    if name not in presets:
        raise ValueError(f"unknown preset '{name}'; choose one of {', '.join(presets)}")
    p = presets[name]
    loss_names = {f.name for f in fields(p.loss)}
    optim_names = {f.name for f in fields(p.optim)}
    unknown = set(overrides) - loss_names - optim_names
    if unknown:
        raise ValueError(f"unknown loss/optimiser field(s) {', '.join(sorted(unknown))}; known: "
                         f"{', '.join(sorted(loss_names | optim_names))}")
    return (replace(p.loss, **{k: v for k, v in overrides.items() if k in loss_names}),
            replace(p.optim, **{k: v for k, v in overrides.items() if k in optim_names}))


def known_fields(cls: type, d: dict[str, Any]) -> dict[str, Any]:
    """`d` unchanged when every key is a field of `cls`; ValueError naming the unknown ones."""
    names = {f.name for f in fields(cls)}
    unknown = set(d) - names
    if unknown:
        raise ValueError(f"unknown {cls.__name__} fields: {sorted(unknown)}")
    return dict(d)

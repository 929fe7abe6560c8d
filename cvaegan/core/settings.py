"""What every family's loss and optimiser settings share: checks of their numeric fields, and
presets — named (loss, optimiser) starting points that `--set`-style overrides modify by field
name."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, ClassVar

from cvaegan.core.arch import ModelConfig


def check_weights(obj: Any, names: tuple[str, ...]) -> None:
    """Each named field is a finite number ≥ 0 (a loss weight); ValueError names the first that is not."""
    for name in names:
        v = getattr(obj, name)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            raise ValueError(f"{name} must be a finite number ≥ 0, got {v!r}")


# Fields an optimiser config saved before they existed takes on load: the rates were constant.
LEGACY_OPTIM_FIELDS: dict[str, Any] = {"lr_decay": 0.0}


def check_adam(obj: Any, lrs: tuple[str, ...]) -> None:
    """Learning rates finite and > 0, Adam's `beta1`, `beta2` in [0, 1), the decayed share of the
    run (`lr_decay`, `cvaegan.core.schedule`) in [0, 1]."""
    for name in lrs:
        v = getattr(obj, name)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
            raise ValueError(f"{name} must be a finite number > 0, got {v!r}")
    for name in ("beta1", "beta2"):
        v = getattr(obj, name)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < 1:
            raise ValueError(f"{name} must be in [0, 1), got {v!r}")
    v = getattr(obj, "lr_decay", 0.0)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1:
        raise ValueError(f"lr_decay must be in [0, 1] (the share of the run over which the rates fall to 0), "
                         f"got {v!r}")


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


@dataclass
class SingleModelConfig:
    """The config of a family with one model: the shared architecture plus the family's loss and
    optimiser settings, as a checkpoint stores them. A subclass sets `family`, `model_name` and
    `networks`, and declares `loss` and `optim` fields whose default factories are their types."""

    model: ModelConfig
    family: ClassVar[str]
    model_name: ClassVar[str]
    networks: ClassVar[tuple[str, ...]]

    def __post_init__(self) -> None:
        if self.model.model != self.model_name:
            raise ValueError(f"the {self.family} family has the model '{self.model_name}', not {self.model.model!r}")

    @property
    def num_classes(self) -> int:
        return self.model.num_classes

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def _types(cls) -> tuple[type, type]:
        f = {x.name: x for x in fields(cls)}
        return f["loss"].default_factory, f["optim"].default_factory  # type: ignore[return-value]

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Any:
        loss_t, optim_t = cls._types()
        return cls(ModelConfig.from_dict(d["model"]),
                   loss_t(**known_fields(loss_t, d.get("loss", {}))),
                   optim_t(**known_fields(optim_t, {**LEGACY_OPTIM_FIELDS, **d.get("optim", {})})))

    @classmethod
    def new(cls, arch: ModelConfig, loss: Any = None, optim: Any = None) -> Any:
        """The family's `Family.new_config`: None takes the default settings; settings of another
        family are refused."""
        loss_t, optim_t = cls._types()
        if loss is not None and not isinstance(loss, loss_t) or optim is not None and not isinstance(optim, optim_t):
            raise ValueError(f"a {cls.family} config takes a {loss_t.__name__} and a {optim_t.__name__}")
        return cls(arch, loss if loss is not None else loss_t(), optim if optim is not None else optim_t())

"""A tiny test-only model family, written the way a new family under `cvaegan/families/<name>/` is:
a config, its networks, a training step of phases, the FAMILY record. It shows that a family needs
nothing else: the tests register it and train, checkpoint, load and sample it through the same
pipelines as CVAE-GAN.

The model `tiny` is a conditional decoder G(z, c) trained to reconstruct each class's images from
noise (a per-class mean-image regressor): one network, one phase, `generate` only.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import torch
from torch import Tensor, nn

from cvaegan.core.arch import ModelConfig
from cvaegan.core.batch import Batch
from cvaegan.core.condition import one_hot
from cvaegan.core.family import Family, ModelSpec, Phase


@dataclass
class TinyLoss:
    weight: float = 1.0


@dataclass
class TinyOptim:
    lr_g: float = 1e-2


@dataclass
class TinyConfig:
    model: ModelConfig
    loss: TinyLoss = field(default_factory=TinyLoss)
    optim: TinyOptim = field(default_factory=TinyOptim)

    def __post_init__(self) -> None:
        if self.model.model not in ("tiny", "tinyp"):
            raise ValueError(f"the tiny families have the models 'tiny' and 'tinyp', not {self.model.model!r}")

    networks = ("G",)

    @property
    def num_classes(self) -> int:
        return self.model.num_classes

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TinyConfig":
        return cls(ModelConfig(**d["model"]), TinyLoss(**d.get("loss", {})), TinyOptim(**d.get("optim", {})))


SEEN: list[Batch] = []  # every batch the step was given (tests look at them)


class TinyG(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.shape = (3, cfg.resolution, cfg.resolution)
        self.fc = nn.Linear(cfg.latent_dim + cfg.num_classes, 3 * cfg.resolution ** 2)

    def forward(self, z: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
        h = torch.cat([z, c], 1)
        return torch.tanh(self.fc(h)).view(-1, *self.shape), h


class TinyModel(nn.Module):
    def __init__(self, cfg: TinyConfig):
        super().__init__()
        self.cfg = cfg
        self.nets = nn.ModuleDict({"G": TinyG(cfg.model)})

    @property
    def num_classes(self) -> int:
        return self.cfg.model.num_classes

    @property
    def latent_dim(self) -> int:
        return self.cfg.model.latent_dim

    def class_vector(self, labels: Tensor) -> Tensor:
        return one_hot(labels, self.num_classes)

    @torch.no_grad()
    def generate(self, z: Tensor, c: Tensor) -> Tensor:
        return self.nets["G"](z, c)[0].float()


def _train_step(model: TinyModel, optimizers: dict[str, torch.optim.Optimizer], batch: Batch,
                generator: torch.Generator, autocast: Any = None, reduce: Any = None, sync_grads: Any = None
                ) -> dict[str, Tensor]:
    x, y = batch.x, batch.y
    SEEN.append(batch)
    z = torch.randn(x.shape[0], model.latent_dim, generator=generator, device=x.device)
    with autocast or contextlib.nullcontext():
        out, _ = model.nets["G"](z, model.class_vector(y))
        loss = model.cfg.loss.weight * (out.float() - x.float()).pow(2).mean()
    optimizers["G"].zero_grad(set_to_none=True)
    loss.backward()
    if sync_grads is not None:
        sync_grads()
    optimizers["G"].step()
    return {"loss_g": loss.detach()}


def _settings(preset: str, overrides: Mapping[str, Any]) -> tuple[TinyLoss, TinyOptim]:
    if preset != "default":
        raise ValueError(f"unknown preset '{preset}'; choose one of default")
    known = {f.name for f in fields(TinyLoss)} | {f.name for f in fields(TinyOptim)}
    unknown = set(overrides) - known
    if unknown:
        raise ValueError(f"unknown tiny field(s) {', '.join(sorted(unknown))}")
    return (replace(TinyLoss(), **{k: v for k, v in overrides.items() if k == "weight"}),
            replace(TinyOptim(), **{k: v for k, v in overrides.items() if k == "lr_g"}))


FAMILY = Family(
    name="tinyfam",
    summary="test-only: a conditional decoder regressed onto each class's images",
    models=(ModelSpec("tiny", ("G",), (Phase("regress", ("G",)),), frozenset({"generate"}), "G(z, c) ≈ x"),),
    config_from_dict=TinyConfig.from_dict,
    new_config=lambda arch, loss=None, optim=None: TinyConfig(arch, loss or TinyLoss(), optim or TinyOptim()),
    settings=_settings,
    presets=("default",),
    build=TinyModel,
    make_optimizers=lambda m: {"G": torch.optim.Adam(m.nets["G"].parameters(), lr=m.cfg.optim.lr_g)},
    train_step=_train_step,
    options={"lr_g": "lr_g"},
)

# The same model trained on batches of pairs (another family: a family has one batch kind).
PAIRS_FAMILY = dataclasses.replace(
    FAMILY, name="tinypairs", batch="pairs",
    models=(ModelSpec("tinyp", ("G",), (Phase("regress", ("G",)),), frozenset({"generate"}), "G on pairs"),))

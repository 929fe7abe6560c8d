"""CVAE-GAN and the paper's three baselines as one model family (the registry's first)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cvaegan.core.arch import ModelConfig
from cvaegan.core.batch import Batch
from cvaegan.core.family import Family, ModelSpec, Phase
from cvaegan.families.cvaegan.config import NETWORKS_OF, PRESETS, CVAEGANConfig, LossConfig, OptimConfig, from_preset
from cvaegan.families.cvaegan.model import CVAEGAN
from cvaegan.families.cvaegan.step import make_optimizers, train_step

_GAN = frozenset({"generate", "classify"})
_VAE = frozenset({"generate", "encode", "reconstruct"})

MODELS = (
    ModelSpec("cvaegan", NETWORKS_OF["cvaegan"], (Phase("algorithm1", ("C", "D", "G+E")),), _VAE | _GAN,
              "CVAE-GAN (Bao et al. 2017): Algorithm 1, Eqs. 1–7"),
    ModelSpec("cvae", NETWORKS_OF["cvae"], (Phase("vae", ("G+E",)),), _VAE,
              "baseline: conditional VAE, λ1 L_KL + λ2 ½‖x − x'‖²"),
    ModelSpec("cgan", NETWORKS_OF["cgan"], (Phase("gan", ("C", "D", "G")),), _GAN,
              "baseline: conditional GAN, G's symmetric cross-entropies"),
    ModelSpec("fmcgan", NETWORKS_OF["fmcgan"], (Phase("gan", ("C", "D", "G")),), _GAN,
              "baseline: conditional GAN with mean feature matching (§3.2)"),
)


def _new_config(arch: ModelConfig, loss: LossConfig | None = None, optim: OptimConfig | None = None) -> CVAEGANConfig:
    if loss is not None and not isinstance(loss, LossConfig) or optim is not None and not isinstance(optim, OptimConfig):
        raise ValueError("a cvaegan-family config takes a LossConfig and an OptimConfig")
    return CVAEGANConfig(arch, loss if loss is not None else LossConfig(), optim if optim is not None else OptimConfig())


def _train_step(model: CVAEGAN, optimizers: dict[str, Any], batch: Batch, generator: Any,
                autocast: Any = None, reduce: Any = None, sync_grads: Any = None) -> dict[str, Any]:
    """Algorithm 1 on a labeled batch (the step itself takes x and y: tests and benchmarks call it)."""
    return train_step(model, optimizers, batch.x, batch.y, generator, autocast, reduce=reduce, sync_grads=sync_grads)


def _settings(preset: str, overrides: Mapping[str, Any]) -> tuple[LossConfig, OptimConfig]:
    return from_preset(preset, **dict(overrides))


FAMILY = Family(
    name="cvaegan",
    summary="CVAE-GAN and its baselines: class-conditional generation with E, G, D, C",
    models=MODELS,
    config_from_dict=CVAEGANConfig.from_dict,
    new_config=_new_config,
    settings=_settings,
    presets=tuple(PRESETS),
    build=CVAEGAN,
    make_optimizers=make_optimizers,
    train_step=_train_step,
    options={"lambda1": "lambda_kl", "lambda2": "lambda_g", "lambda3": "lambda_gd", "lambda4": "lambda_gc",
             "centre_decay": "centre_decay", "lr_e": "lr_e", "lr_g": "lr_g", "lr_d": "lr_d", "lr_c": "lr_c",
             "pixel": "pixel", "pair_d": "pair_d", "pair_c": "pair_c"},
)

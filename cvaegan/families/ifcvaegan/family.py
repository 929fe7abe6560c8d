"""IFcVAE-GAN as a model family: attribute editing that keeps the identity."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cvaegan.core.batch import Batch
from cvaegan.core.family import Family, ModelSpec, Phase
from cvaegan.families.ifcvaegan.config import MODEL, NETWORKS, PRESETS, IFConfig, IFLossConfig, IFOptimConfig, from_preset
from cvaegan.families.ifcvaegan.model import IFCVAEGAN
from cvaegan.families.ifcvaegan.step import make_optimizers, train_step

MODELS = (
    ModelSpec(MODEL, NETWORKS, (Phase("factorise", ("A", "D", "E", "G")),),
              # Only `edit`: its encode/reconstruct take no class vector, so the apps that call a
              # class-conditioned reconstruct(x, c) (inpaint, superres, morph) must refuse it.
              frozenset({"edit"}),
              "IFcVAE-GAN (Creswell & Mohamied 2017): edit binary attributes, keep the identity"),
)


def _train_step(model: IFCVAEGAN, optimizers: dict[str, Any], batch: Batch, generator: Any,
                autocast: Any = None, reduce: Any = None, sync_grads: Any = None) -> dict[str, Any]:
    """One step on a labeled batch whose targets are the chosen attributes (0/1)."""
    if batch.target is None:
        raise ValueError("ifcvaegan trains on per-image attribute targets; the batch has none")
    return train_step(model, optimizers, batch.x, batch.target, generator, autocast, sync_grads=sync_grads)


def _settings(preset: str, overrides: Mapping[str, Any]) -> tuple[IFLossConfig, IFOptimConfig]:
    return from_preset(preset, **dict(overrides))


FAMILY = Family(
    name="ifcvaegan",
    summary="IFcVAE-GAN: attribute editing with an adversarially factorised identity code",
    models=MODELS,
    config_from_dict=IFConfig.from_dict,
    new_config=IFConfig.new,
    settings=_settings,
    presets=tuple(PRESETS),
    build=IFCVAEGAN,
    make_optimizers=make_optimizers,
    train_step=_train_step,
    options={"lambda1": "lambda_kl", "lr_e": "lr_e", "lr_g": "lr_g", "lr_d": "lr_d", "lr_a": "lr_a"},
    condition="attributes",
)

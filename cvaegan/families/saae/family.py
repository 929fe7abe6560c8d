"""SAAE as a model family: content from one image, style from another."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cvaegan.core.batch import Batch
from cvaegan.core.family import Family, ModelSpec, Phase
from cvaegan.families.saae.config import (GENERATOR, MODEL, NETWORKS, PRESETS, SAAEConfig, SAAELossConfig,
                                          SAAEOptimConfig, from_preset)
from cvaegan.families.saae.model import SAAE
from cvaegan.families.saae.step import make_optimizers, train_step

MODELS = (
    # One phase; the three-step schedule switches its objectives on by step (config.py).
    ModelSpec(MODEL, NETWORKS, (Phase("stylize", ("D", GENERATOR)),), frozenset({"stylize"}),
              "SAAE (stylized adversarial autoencoder): a content image drawn in another image's style"),
)


def _train_step(model: SAAE, optimizers: dict[str, Any], batch: Batch, generator: Any,
                autocast: Any = None, reduce: Any = None, sync_grads: Any = None) -> dict[str, Any]:
    """One step on a styled batch: x, its class y, and a style image of x's style group."""
    if batch.x_pair is None:
        raise ValueError("saae trains on styled batches (a style image for every image); the batch has none")
    return train_step(model, optimizers, batch.x, batch.y, batch.x_pair, autocast, sync_grads=sync_grads)


def _settings(preset: str, overrides: Mapping[str, Any]) -> tuple[SAAELossConfig, SAAEOptimConfig]:
    return from_preset(preset, **dict(overrides))


FAMILY = Family(
    name="saae",
    summary="SAAE: content from one image, style from another (two encoders, a (k+1)-class D)",
    models=MODELS,
    config_from_dict=SAAEConfig.from_dict,
    new_config=SAAEConfig.new,
    settings=_settings,
    presets=tuple(PRESETS),
    build=SAAE,
    make_optimizers=make_optimizers,
    train_step=_train_step,
    options={"lr_g": "lr_g", "lr_d": "lr_d"},
    batch="styled",
)

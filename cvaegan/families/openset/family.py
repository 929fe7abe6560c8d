"""The open-set identity-swap model as a model family: one person's identity with another photo's
pose, expression and light, for people never seen in training."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cvaegan.core.batch import Batch
from cvaegan.core.family import Family, ModelSpec, Phase
from cvaegan.families.openset.config import (GENERATOR, MODEL, MODEL_SEPARATE_C, NETWORKS, PRESETS, OpenSetConfig,
                                             OpenSetLossConfig, OpenSetOptimConfig, from_preset)
from cvaegan.families.openset.model import OpenSet
from cvaegan.families.openset.step import make_optimizers, train_step

MODELS = (
    ModelSpec(MODEL, NETWORKS[MODEL], (Phase("swap", ("I", "D", GENERATOR)),), frozenset({"swap"}),
              "open-set identity swap (Bao et al. 2018): identity of one face, pose and light of another"),
    ModelSpec(MODEL_SEPARATE_C, NETWORKS[MODEL_SEPARATE_C], (Phase("swap", ("I", "C", "D", GENERATOR)),),
              frozenset({"swap"}), "open-set identity swap with a separate identity classifier C"),
)


def _train_step(model: OpenSet, optimizers: dict[str, Any], batch: Batch, generator: Any,
                autocast: Any = None, reduce: Any = None, sync_grads: Any = None) -> dict[str, Any]:
    """One step on a batch of pairs: identity sources x (people y), attribute sources x_pair."""
    if batch.x_pair is None or batch.y_pair is None:
        raise ValueError("openset trains on pairs (a partner image for every image); the batch has none")
    return train_step(model, optimizers, batch.x, batch.y, batch.x_pair, batch.y_pair, generator, autocast,
                      sync_grads=sync_grads)


def _settings(preset: str, overrides: Mapping[str, Any]) -> tuple[OpenSetLossConfig, OpenSetOptimConfig]:
    return from_preset(preset, **dict(overrides))


FAMILY = Family(
    name="openset",
    summary="open-set identity swap: identity encoder I, attribute encoder A, G(f_I, z_A), D and C",
    models=MODELS,
    config_from_dict=OpenSetConfig.from_dict,
    new_config=OpenSetConfig.new,
    settings=_settings,
    presets=tuple(PRESETS),
    build=OpenSet,
    make_optimizers=make_optimizers,
    train_step=_train_step,
    options={"lambda1": "lambda_kl", "lr_g": "lr_g", "lr_d": "lr_d"},
    batch="pairs",
)

"""Checkpoints of any registered family: the core's format checks with the family's config parser
(found from the config's model name), and the model rebuilt from a checkpoint."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from cvaegan.core import checkpoint as core
from cvaegan.core.checkpoint import CheckpointError, condition_of, first_line, load_optimizers, validate_resumable
from cvaegan.core.condition import ConditionSpec
from cvaegan.families import registry

__all__ = ["CheckpointError", "condition_of", "load_optimizers", "make_checkpoint", "model_from_checkpoint",
           "validate_checkpoint", "validate_resumable"]


def _parse_config(config: Any, family: str | None) -> Any:
    """The family config of a checkpoint: by its family's name (version 2) or, in a version-1
    file, the family that has the config's model."""
    fam = registry.family_of_config(config) if family is None else registry.family(family)
    if family is not None and registry.family_of_config(config) is not fam:
        raise ValueError(f"the config's model is not a model of the '{family}' family")
    return fam.config_from_dict(config)


def make_checkpoint(model: nn.Module, *, class_names: list[str], step: int, condition: ConditionSpec | None = None,
                    optimizers: dict[str, torch.optim.Optimizer] | None = None,
                    rng: dict[str, Any] | None = None, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """`core.checkpoint.make_checkpoint` naming the model's family from the registry."""
    family = registry.resolve(model.cfg.model.model)[0].name
    return core.make_checkpoint(model, family=family, class_names=class_names, step=step, condition=condition,
                                optimizers=optimizers, rng=rng, meta=meta)


def validate_checkpoint(obj: Any) -> dict[str, Any]:
    """Raise CheckpointError with a short reason unless `obj` is a checkpoint of a registered family."""
    return core.validate_checkpoint(obj, _parse_config)


def model_from_checkpoint(ckpt: dict[str, Any], device: torch.device | str = "cpu", *,
                          validated: bool = False) -> nn.Module:
    """Rebuild the model and load its weights and centres (strictly: a mismatch is an error).
    `validated`: `ckpt` came from `validate_checkpoint` (as `session.load_checkpoint` returns it)."""
    if not validated:
        validate_checkpoint(ckpt)
    try:
        family = registry.family_of_config(ckpt["config"])  # validated: the same as ckpt["family"]
        model = family.build(family.config_from_dict(ckpt["config"]))
        for name, net in model.nets.items():
            net.load_state_dict(ckpt["networks"][name])
        centres = getattr(model, "centres", None)
        if centres is not None and ckpt.get("centres") is not None:
            centres.load_state_dict(ckpt["centres"])
        wanted = set(core.own_buffers(model))
        got = ckpt.get("buffers") or {}
        if set(got) != wanted:
            raise ValueError(f"its buffers are {sorted(got) or 'none'}, the model has {sorted(wanted) or 'none'}")
        if got:
            model.load_state_dict(got, strict=False)
    except (KeyError, ValueError, RuntimeError, TypeError) as exc:
        raise CheckpointError(f"checkpoint does not match its config: {first_line(exc)}") from exc
    return model.to(device)

"""Checkpoints of any registered family: the core's format checks with the family's config parser
(found from the config's model name), and the model rebuilt from a checkpoint."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from cvaegan.core import checkpoint as core
from cvaegan.core.checkpoint import CheckpointError, first_line, load_optimizers, make_checkpoint, validate_resumable
from cvaegan.families import registry

__all__ = ["CheckpointError", "load_optimizers", "make_checkpoint", "model_from_checkpoint", "validate_checkpoint",
           "validate_resumable"]


def _parse_config(config: Any) -> Any:
    return registry.family_of_config(config).config_from_dict(config)


def validate_checkpoint(obj: Any) -> dict[str, Any]:
    """Raise CheckpointError with a short reason unless `obj` is a checkpoint of a registered family."""
    return core.validate_checkpoint(obj, _parse_config)


def model_from_checkpoint(ckpt: dict[str, Any], device: torch.device | str = "cpu") -> nn.Module:
    """Rebuild the model and load its weights and centres (strictly: a mismatch is an error)."""
    validate_checkpoint(ckpt)
    try:
        family = registry.family_of_config(ckpt["config"])
        model = family.build(family.config_from_dict(ckpt["config"]))
        for name, net in model.nets.items():
            net.load_state_dict(ckpt["networks"][name])
        centres = getattr(model, "centres", None)
        if centres is not None and ckpt.get("centres") is not None:
            centres.load_state_dict(ckpt["centres"])
    except (KeyError, ValueError, RuntimeError, TypeError) as exc:
        raise CheckpointError(f"checkpoint does not match its config: {first_line(exc)}") from exc
    return model.to(device)

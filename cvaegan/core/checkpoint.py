"""The one checkpoint format, as a plain dict that `torch.load(..., weights_only=True)` accepts.

    {
      "format": "cvaegan-checkpoint", "version": 2,
      "family": str,                            # the registry name of the model family
      "config": the family config's to_dict() (its "model" entry names the model within the family),
      "condition": ConditionSpec.to_dict(),     # what c is: classes, attributes or an embedding
      "class_names": [str, ...],
      "networks": {"E": state_dict, "G": ..., "D": ..., "C": ...},   # those of the model kind
      "centres": state_dict | None,                                 # Eq. 2 / Eq. 4 moving averages
      "buffers": state_dict | None,    # the model's own buffers outside nets and centres (SAAE:
                                       # the classes' content images, its step count); optional
      "optimizers": {"E": state_dict, ...} | None,                  # None in an export for sampling
      "step": int,
      "rng": {"data": ByteTensor, "noise": ByteTensor, "noise_device": str, "torch": ByteTensor},
      "meta": {...run metadata: versions, command line, time, images seen...},
    }

Reading and writing files is `cvaegan/runtime/checkpoint_io.py`'s job; this module only builds and
checks the dict, so the core stays free of I/O. It knows no family: `validate_checkpoint` takes the
family's config parser, and `cvaegan.families.checkpoint` supplies it from the registry.

Version 1 (cvaegan 0.1) had no "family" and no "condition": its family is the one that has the
config's model, its condition a class vector over `class_names`. Both versions are read; version 2
is written.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from cvaegan.core.condition import ConditionSpec

FORMAT = "cvaegan-checkpoint"
VERSION = 2
READABLE = (1, 2)


class CheckpointError(ValueError):
    """The object is not a checkpoint this version can read."""


def make_checkpoint(model: nn.Module, *, family: str, class_names: list[str], step: int,
                    condition: ConditionSpec | None = None,
                    optimizers: dict[str, torch.optim.Optimizer] | None = None,
                    rng: dict[str, Any] | None = None, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """The checkpoint dict of `model` (of `family`); the condition defaults to a class vector over
    `class_names`."""
    if len(class_names) != model.num_classes:
        raise ValueError(f"{len(class_names)} class names for a {model.num_classes}-class model")
    condition = condition or ConditionSpec.classes(class_names)
    return {
        "format": FORMAT,
        "version": VERSION,
        "family": family,
        "config": model.cfg.to_dict(),
        "condition": condition.to_dict(),
        "class_names": list(class_names),
        "networks": {name: _cpu(net.state_dict()) for name, net in model.nets.items()},
        "centres": _cpu(centres.state_dict()) if (centres := getattr(model, "centres", None)) is not None else None,
        "buffers": _cpu(own_buffers(model)) or None,
        "optimizers": {n: o.state_dict() for n, o in optimizers.items()} if optimizers else None,
        "step": int(step),
        "rng": rng or {},
        "meta": meta or {},
    }


def own_buffers(model: Any) -> dict[str, Any]:
    """The model's state outside its networks and centres: buffers a family keeps on the model
    itself (SAAE's content images and step count). Empty for CVAE-GAN's and IFcVAE-GAN's."""
    return {k: v for k, v in model.state_dict().items() if not k.startswith(("nets.", "centres."))}


def validate_checkpoint(obj: Any, parse_config: Callable[[Any, str | None], Any]) -> dict[str, Any]:
    """Raise CheckpointError with a short reason unless `obj` is a cvaegan checkpoint of a version
    this reads whose config `parse_config(config, family or None)` accepts (a family config with
    `num_classes` and `networks`)."""
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise CheckpointError("not a cvaegan checkpoint")
    version = obj.get("version")
    if type(version) is not int or version not in READABLE:
        raise CheckpointError(f"checkpoint format version {version!r}; this cvaegan reads versions "
                              f"{', '.join(map(str, READABLE))}")
    for key in ("config", "class_names", "networks", "step") + (("family", "condition") if version >= 2 else ()):
        if key not in obj:
            raise CheckpointError(f"checkpoint has no '{key}' entry")
    family = obj.get("family")
    if version >= 2 and not isinstance(family, str):
        raise CheckpointError(f"family must be a name, got {family!r}")
    # Types and bounds before anything is built from it: a few-KB file must not make a loader
    # allocate a billion-class model or fail deep inside torch.
    try:
        cfg = parse_config(obj["config"], family)
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"invalid config: {first_line(exc)}") from exc
    names = obj["class_names"]
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise CheckpointError("class_names must be a list of strings")
    if len(names) != cfg.num_classes:
        raise CheckpointError(f"{len(names)} class names for a {cfg.num_classes}-class model")
    cond = condition_of(obj)
    if cond.kind == "class" and list(cond.names) != names:
        raise CheckpointError("the class condition's names differ from class_names")
    if type(obj["step"]) is not int or obj["step"] < 0:
        raise CheckpointError(f"step must be a non-negative integer, got {obj['step']!r}")
    nets = obj["networks"]
    if not isinstance(nets, dict) or any(n not in nets for n in cfg.networks):
        raise CheckpointError(f"networks must hold {', '.join(cfg.networks)}")
    for name in cfg.networks:
        sd = nets[name]
        if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
            raise CheckpointError(f"networks['{name}'] is not a state dict of tensors")
    for key in ("optimizers", "centres", "buffers"):
        if obj.get(key) is not None and not isinstance(obj[key], dict):
            raise CheckpointError(f"'{key}' must be a dict or None")
    if not isinstance(obj.get("rng", {}), dict) or not isinstance(obj.get("meta", {}), dict):
        raise CheckpointError("'rng' and 'meta' must be dicts")
    return obj


def condition_of(ckpt: dict[str, Any]) -> ConditionSpec:
    """The checkpoint's condition; a version-1 file's is a class vector over its class names."""
    try:
        if ckpt.get("version") == 1:
            return ConditionSpec.classes(ckpt["class_names"])
        return ConditionSpec.from_dict(ckpt["condition"])
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"invalid condition: {first_line(exc)}") from exc


def validate_resumable(ckpt: dict[str, Any]) -> None:
    """Raise CheckpointError unless `ckpt` holds what a resume needs: optimiser states and the
    data-order and torch random states (an export for sampling has neither)."""
    if not ckpt.get("optimizers"):
        raise CheckpointError("checkpoint holds no optimizer state (an export, not a training checkpoint)")
    rng = ckpt.get("rng") or {}
    for key in ("data_epoch", "torch"):
        if not isinstance(rng.get(key), torch.Tensor) or rng[key].dtype != torch.uint8:
            raise CheckpointError(f"checkpoint has no random state rng['{key}'] to resume from")
    for key in ("epoch", "epoch_pos"):
        if type(rng.get(key)) is not int or rng[key] < 0:
            raise CheckpointError(f"checkpoint's rng['{key}'] is not a non-negative integer")


def load_optimizers(ckpt: dict[str, Any], optimizers: dict[str, torch.optim.Optimizer]) -> None:
    states = ckpt.get("optimizers")
    if not states:
        raise CheckpointError("checkpoint holds no optimizer state (an export, not a training checkpoint)")
    try:
        for name, opt in optimizers.items():
            opt.load_state_dict(states[name])
    except (KeyError, ValueError, TypeError, RuntimeError) as exc:
        raise CheckpointError(f"optimizer state does not match the model: {first_line(exc)}") from exc


def _cpu(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in sd.items()}


def first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]

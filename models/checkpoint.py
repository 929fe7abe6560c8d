"""The one checkpoint format, as a plain dict that `torch.load(..., weights_only=True)` accepts.

    {
      "format": "cvaegan-checkpoint", "version": 1,
      "config": CVAEGANConfig.to_dict(),
      "class_names": [str, ...],
      "networks": {"E": state_dict, "G": ..., "D": ..., "C": ...},   # those of the model kind
      "centres": state_dict | None,                                 # Eq. 2 / Eq. 4 moving averages
      "optimizers": {"E": state_dict, ...} | None,                  # None in an export for sampling
      "step": int,
      "rng": {"data": ByteTensor, "noise": ByteTensor, "noise_device": str, "torch": ByteTensor},
      "meta": {...run metadata: versions, command line, time, images seen...},
    }

Reading and writing files is the CLI's job (`cvaegan_cli/checkpoint_io.py`); this module only
builds and checks the dict, so the model core stays free of I/O.
"""

from __future__ import annotations

from typing import Any

import torch

from models.config import CVAEGANConfig
from models.model import CVAEGAN

FORMAT = "cvaegan-checkpoint"
VERSION = 1


class CheckpointError(ValueError):
    """The object is not a checkpoint this version can read."""


def make_checkpoint(model: CVAEGAN, *, class_names: list[str], step: int,
                    optimizers: dict[str, torch.optim.Optimizer] | None = None,
                    rng: dict[str, Any] | None = None, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    if len(class_names) != model.num_classes:
        raise ValueError(f"{len(class_names)} class names for a {model.num_classes}-class model")
    return {
        "format": FORMAT,
        "version": VERSION,
        "config": model.cfg.to_dict(),
        "class_names": list(class_names),
        "networks": {name: _cpu(net.state_dict()) for name, net in model.nets.items()},
        "centres": _cpu(model.centres.state_dict()) if model.centres is not None else None,
        "optimizers": {n: o.state_dict() for n, o in optimizers.items()} if optimizers else None,
        "step": int(step),
        "rng": rng or {},
        "meta": meta or {},
    }


def validate_checkpoint(obj: Any) -> dict[str, Any]:
    """Raise CheckpointError with a short reason unless `obj` is a version-1 cvaegan checkpoint."""
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise CheckpointError("not a cvaegan checkpoint")
    if obj.get("version") != VERSION:
        raise CheckpointError(f"checkpoint format version {obj.get('version')!r}; this cvaegan reads "
                              f"version {VERSION}")
    for key in ("config", "class_names", "networks", "step"):
        if key not in obj:
            raise CheckpointError(f"checkpoint has no '{key}' entry")
    # Types and bounds before anything is built from it: a few-KB file must not make a loader
    # allocate a billion-class model or fail deep inside torch.
    try:
        cfg = CVAEGANConfig.from_dict(obj["config"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"invalid config: {_first_line(exc)}") from exc
    names = obj["class_names"]
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise CheckpointError("class_names must be a list of strings")
    if len(names) != cfg.model.num_classes:
        raise CheckpointError(f"{len(names)} class names for a {cfg.model.num_classes}-class model")
    if type(obj["step"]) is not int or obj["step"] < 0:
        raise CheckpointError(f"step must be a non-negative integer, got {obj['step']!r}")
    nets = obj["networks"]
    if not isinstance(nets, dict) or any(n not in nets for n in cfg.model.networks):
        raise CheckpointError(f"networks must hold {', '.join(cfg.model.networks)}")
    for name in cfg.model.networks:
        sd = nets[name]
        if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
            raise CheckpointError(f"networks['{name}'] is not a state dict of tensors")
    for key in ("optimizers", "centres"):
        if obj.get(key) is not None and not isinstance(obj[key], dict):
            raise CheckpointError(f"'{key}' must be a dict or None")
    if not isinstance(obj.get("rng", {}), dict) or not isinstance(obj.get("meta", {}), dict):
        raise CheckpointError("'rng' and 'meta' must be dicts")
    return obj


def model_from_checkpoint(ckpt: dict[str, Any], device: torch.device | str = "cpu") -> CVAEGAN:
    """Rebuild the model and load its weights and centres (strictly: a mismatch is an error)."""
    validate_checkpoint(ckpt)
    try:
        model = CVAEGAN(CVAEGANConfig.from_dict(ckpt["config"]))
        for name, net in model.nets.items():
            net.load_state_dict(ckpt["networks"][name])
        if model.centres is not None and ckpt.get("centres") is not None:
            model.centres.load_state_dict(ckpt["centres"])
    except (KeyError, ValueError, RuntimeError, TypeError) as exc:
        raise CheckpointError(f"checkpoint does not match its config: {_first_line(exc)}") from exc
    return model.to(device)


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
        raise CheckpointError(f"optimizer state does not match the model: {_first_line(exc)}") from exc


def _cpu(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in sd.items()}


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]

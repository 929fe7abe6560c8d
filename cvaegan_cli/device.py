"""Device choice and the CUDA fast paths (bf16 autocast, channels_last, TF32)."""

from __future__ import annotations

import contextlib

import torch

from cvaegan_cli.errors import CvaeganError

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def resolve_device(name: str) -> torch.device:
    name = name.lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise CvaeganError("--device cuda was asked for, but PyTorch sees no CUDA device "
                               "(use --device cpu or auto)")
        return torch.device(name)
    if name == "cpu":
        return torch.device("cpu")
    raise CvaeganError(f"unknown device '{name}'; use one of {', '.join(DEVICE_CHOICES)}")


def configure(device: torch.device) -> None:
    """TF32 matmuls/convs on CUDA: same speed class as bf16 for the fp32 parts, ample precision."""
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True


def autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA (no grad scaler needed, unlike fp16); full fp32 on the CPU."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def memory_format(device: torch.device) -> torch.memory_format:
    return torch.channels_last if device.type == "cuda" else torch.contiguous_format

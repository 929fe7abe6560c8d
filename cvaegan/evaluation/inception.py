"""Standard FID with torchvision's Inception-v3, for users who have its weights on disk.

Nothing is downloaded: `--inception PATH` must point at torchvision's ImageNet Inception-v3
state_dict (e.g. `inception_v3_google-0cc3c7bd.pth`). Features are the 2048-d pool3 activations
of 299×299 inputs, as in FID. Note: pytorch-fid and the original TF FID use the 2015 TF Inception
graph; torchvision's weights give close but not identical numbers, so compare FIDs only when
computed with the same weights.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cvaegan.runtime.errors import CvaeganError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def load_inception(path: str | os.PathLike[str], device: torch.device | str = "cpu") -> nn.Module:
    """torchvision Inception-v3 with the given weights, fc removed (outputs pool3 features)."""
    from torchvision.models import inception_v3

    path = Path(path)
    if not path.is_file():
        raise CvaeganError(f"--inception {path}: no such file (torchvision Inception-v3 weights expected)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001
        raise CvaeganError(f"--inception {path}: not a loadable weights file ({type(exc).__name__})") from exc
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    # transform_input=True is how torchvision builds it for these weights: inputs are
    # ImageNet-normalised, and the model converts them to the scaling its weights were trained with.
    net = inception_v3(weights=None, aux_logits=True, transform_input=True, init_weights=False)
    try:
        net.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as exc:
        first = (str(exc).strip().splitlines() or [""])[0][:160]
        raise CvaeganError(f"--inception {path}: not torchvision Inception-v3 weights ({first})") from exc
    net.fc = nn.Identity()
    return net.to(device).eval()


@torch.no_grad()
def inception_features(net: nn.Module, images: Tensor, batch_size: int = 50,
                       progress: Callable[[int], None] | None = None) -> Tensor:
    """pool3 features (N, 2048) of images in [-1, 1], resized to 299×299 (bilinear)."""
    device = next(net.parameters()).device
    mean = torch.tensor(IMAGENET_MEAN, device=device)[None, :, None, None]
    std = torch.tensor(IMAGENET_STD, device=device)[None, :, None, None]
    out = []
    for i in range(0, images.shape[0], batch_size):
        x = images[i:i + batch_size].to(device).float()
        x = F.interpolate((x + 1) / 2, size=(299, 299), mode="bilinear", align_corners=False)
        out.append(net((x - mean) / std).float().cpu())
        if progress is not None:
            progress(min(i + batch_size, images.shape[0]))
    return torch.cat(out)

"""Helpers shared by the application tests (morph, inpaint, augment, superres)."""

from __future__ import annotations

from pathlib import Path

import torch

from cvaegan.apps.common import read_crop
from cvaegan.data.manifest import index_dataset
from cvaegan.session import Session, open_session

DETECTOR = "models/scrfd_500m_kps.onnx"  # under the test_data root


def demo_model(trained_demo: dict[str, Path]) -> Session:
    return open_session(trained_demo["ckpt"], device="cpu")


def held_out(trained_demo: dict[str, Path], resolution: int = 32) -> tuple[torch.Tensor, list[int], list[Path]]:
    """The demo dataset's test-split crops (never trained on): images (N, 3, R, R), labels, files."""
    index = index_dataset(trained_demo["data"]).subset("test")
    assert len(index) > 0, "the demo dataset has no test split"
    x = torch.stack([read_crop(f, resolution) for f in index.files])
    return x, list(index.labels), list(index.files)

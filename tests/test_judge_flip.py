"""The judge never mirrors the training images of a dataset whose manifest says `"flip": false`
(characters: a mirrored "R" is not an "R"), and keeps its random shift."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from cvaegan.evaluation import judge as J
from cvaegan.evaluation.judge import JudgeTrainOptions, load_judge, train_judge

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SIZE = 32


def _left_glyphs(root, flip: bool | None):
    """Two classes of white glyphs drawn in the LEFT third of a black image (a bar, or a bar with
    a foot), 8 images each; a mirrored image has its ink on the right."""
    items = []
    for k in range(2):
        (root / str(k)).mkdir(parents=True, exist_ok=True)
        for i in range(8):
            a = np.zeros((SIZE, SIZE, 3), np.uint8)
            a[4 + i:26, 3:6] = 255
            if k:
                a[22:26, 3:11] = 255
            Image.fromarray(a).save(root / str(k) / f"{i}.png")
            items.append({"file": f"{k}/{i}.png", "class": k, "split": "test" if i == 7 else "train"})
    manifest = {"format": "cvaegan-dataset", "version": 1, "kind": "synthetic",
                "classes": [{"index": k, "name": str(k)} for k in range(2)], "items": items}
    if flip is not None:
        manifest["flip"] = flip
    (root / "dataset.json").write_text(json.dumps(manifest))
    return root


def _ink_right_share(x: torch.Tensor) -> torch.Tensor:
    """Per image, the share of its ink (pixels above black) in the right half."""
    ink = (x + 1).clamp(min=0).sum((1, 2))
    return ink[:, SIZE // 2:].sum(1) / ink.sum(1).clamp(min=1e-6)


def _train_and_watch(data, tmp_path, monkeypatch):
    seen = []
    real = J.augment

    def spy(*args, **kwargs):
        out = real(*args, **kwargs)
        seen.append(out.detach().cpu())
        return out

    monkeypatch.setattr(J, "augment", spy)
    train_judge(JudgeTrainOptions(data=data, out=tmp_path / "j.pt", resolution=SIZE, width=4, epochs=4,
                                  batch_size=8, seed=0, device="cpu", workers=0, cache_dir=tmp_path / "c"))
    assert seen, "the judge trained without its augmentation"
    return torch.cat(seen), load_judge(tmp_path / "j.pt")[1]


def test_judge_does_not_flip_a_flip_false_dataset(tmp_path, monkeypatch):
    data = _left_glyphs(tmp_path / "data", flip=False)
    x, ckpt = _train_and_watch(data, tmp_path, monkeypatch)
    right = _ink_right_share(x)
    assert float(right.max()) < 0.2, "a training image of a flip-false dataset was mirrored"
    assert ckpt["train"]["flip"] is False and "no flip" in ckpt["train"]["augment"]
    # the shift is kept: not every image is the original
    originals = torch.cat([J.to_float(np.array(Image.open(f).convert("RGB"))[None])
                           for f in sorted(data.glob("*/*.png"))])
    assert any(not any(torch.equal(a, o) for o in originals) for a in x)


def test_judge_still_flips_other_datasets(tmp_path, monkeypatch):
    """The control: without `"flip": false` about half of the images are mirrored, so the test
    above can see a flip."""
    x, ckpt = _train_and_watch(_left_glyphs(tmp_path / "data", flip=None), tmp_path, monkeypatch)
    assert 0.2 < float((_ink_right_share(x) > 0.8).float().mean()) < 0.8
    assert ckpt["train"]["flip"] is True


def test_augment_without_flip_never_mirrors():
    x = torch.full((64, 3, SIZE, SIZE), -1.0)
    x[:, :, 4:26, 3:9] = 1.0
    out = J.augment(x, torch.Generator().manual_seed(0), flip=False)
    assert float(_ink_right_share(out).max()) < 0.2
    assert float(_ink_right_share(J.augment(x, torch.Generator().manual_seed(0))).max()) > 0.8

"""The attribute judge: a multi-label (sigmoid) judge of a dataset's binary targets, its errors,
its checkpoint (version 2, and version-1 class judges still read) and its command line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw
from typer.testing import CliRunner

from cvaegan.cli.app import app
from cvaegan.data.manifest import MANIFEST_NAME, new_manifest
from cvaegan.evaluation.judge import (JUDGE_VERSION, JudgeConfig, JudgeNet, JudgeTrainOptions, attribute_metrics,
                                      attribute_outputs, attribute_probabilities, judge_features, judge_kind,
                                      judge_outputs, load_judge, select_attributes, train_judge)
from cvaegan.runtime.errors import CvaeganError
from tests.helpers import make_shapes_dataset

pytestmark = pytest.mark.usefixtures("one_torch_thread")

NAMES = ["Square", "Red", "Coin", "Never"]  # Coin: random (unlearnable); Never: always 0
SIZE = 24


def _face(rng: np.random.Generator | None, square: bool, red: bool) -> Image.Image:
    """A dark noisy background; `square`: a white square in the top-left; `red`: a red tint."""
    if rng is None:
        arr = np.full((SIZE, SIZE, 3), 40, np.int16)
    else:
        arr = rng.integers(0, 70, 3)[None, None, :] + rng.integers(0, 20, (SIZE, SIZE, 3))
    if red:
        arr[..., 0] += 130
    im = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    if square:
        o = 1 if rng is None else int(rng.integers(0, 3))
        ImageDraw.Draw(im).rectangle((o + 1, o + 1, o + 7, o + 7), fill=(255, 255, 255))
    return im


def make_attribute_dataset(root: Path, n_train: int = 192, n_test: int = 64, seed: int = 0) -> Path:
    """Two identity folders; per item targets [Square (~25 % on), Red (~50 %), Coin, Never] and
    the manifest's train/test split."""
    rng = np.random.default_rng(seed)
    classes = [{"index": k, "name": f"person {k}", "folder": f"p{k}"} for k in range(2)]
    items = []
    for i in range(n_train + n_test):
        k = i % 2
        sq, red, coin = bool(rng.random() < 0.25), bool(rng.random() < 0.5), bool(rng.random() < 0.5)
        (root / f"p{k}").mkdir(parents=True, exist_ok=True)
        _face(rng, sq, red).save(root / f"p{k}" / f"{i:04d}.png")
        items.append({"file": f"p{k}/{i:04d}.png", "class": k, "split": "train" if i < n_train else "test",
                      "target": [int(sq), int(red), int(coin), 0]})
    for c in classes:
        c["count"] = sum(it["class"] == c["index"] for it in items)
    manifest = new_manifest("synthetic", classes, items, targets={"names": NAMES})
    (root / MANIFEST_NAME).write_text(json.dumps(manifest))
    return root


@pytest.fixture(scope="module")
def attr_data(tmp_path_factory) -> Path:
    return make_attribute_dataset(tmp_path_factory.mktemp("attr_data"))


@pytest.fixture(scope="module")
def attr_judge(attr_data, tmp_path_factory):
    """An attribute judge over Red and Square (asked for in that order), trained briefly."""
    tmp = tmp_path_factory.mktemp("attr_judge")
    res = train_judge(JudgeTrainOptions(data=attr_data, out=tmp / "attr.pt", resolution=16, width=8, epochs=12,
                                        batch_size=32, seed=0, device="cpu", workers=0, cache_dir=tmp / "c",
                                        attributes="Red,Square"))
    return res


def test_attribute_judge_learns_visible_attributes_on_heldout_images(attr_judge):
    res = attr_judge
    assert res.kind == "attributes" and res.attribute_names == ["Red", "Square"]
    assert res.split_source == "manifest" and res.n_heldout == 64
    held = res.heldout_attributes
    assert held is not None and list(held) == ["Red", "Square"]
    for name in ("Red", "Square"):
        assert held[name]["balanced_accuracy"] >= 0.85, (name, held)
        assert set(held[name]) >= {"accuracy", "balanced_accuracy", "base_rate"}
    assert 0.1 < held["Square"]["base_rate"] < 0.45  # the rarer one is learnt too (pos_weight)
    net, ckpt = load_judge(res.path)  # weights_only inside
    assert judge_kind(ckpt) == ckpt["kind"] == "attributes" and ckpt["version"] == JUDGE_VERSION == 2
    assert ckpt["attribute_names"] == ["Red", "Square"] and net.cfg.num_classes == 2 and not net.training
    assert ckpt["metrics"]["heldout"] == held
    assert set(ckpt["train"]["pos_weight"]) == {"Red", "Square"} and ckpt["train"]["pos_weight"]["Square"] > 1.5
    record = json.loads(res.path.with_suffix(".json").read_text())
    assert record["kind"] == "attributes" and record["attributes"] == ["Red", "Square"]
    assert record["metrics"]["heldout"]["Square"]["balanced_accuracy"] == held["Square"]["balanced_accuracy"]


def test_attribute_probabilities_follow_the_feature(attr_judge):
    """Probes at 24 px (resized to the judge's 16): each feature moves its own probability."""
    net, _ = load_judge(attr_judge.path)
    probes = [_face(None, sq, red) for sq, red in [(False, False), (True, False), (False, True), (True, True)]]
    x = torch.stack([torch.from_numpy(np.array(im)).permute(2, 0, 1).float() / 127.5 - 1 for im in probes])
    p = attribute_probabilities(net, x, batch_size=3)
    assert p.shape == (4, 2) and ((p >= 0) & (p <= 1)).all()
    red, square = p[:, 0], p[:, 1]
    on = torch.tensor([[False, False], [False, True], [True, False], [True, True]])
    assert torch.equal(p >= 0.5, on), p  # "on" is p ≥ 0.5, whatever the other attribute is
    assert red[2] - red[0] > 0.3 and red[3] - red[1] > 0.3, p
    assert square[1] - square[0] > 0.3 and square[3] - square[2] > 0.3, p
    probs, feats = attribute_outputs(net, x)
    assert torch.allclose(probs, p) and feats.shape == (4, net.feature_dim)
    assert torch.allclose(judge_features(net, x), feats)
    with pytest.raises(CvaeganError, match="attribute judge; this needs a class judge"):
        judge_outputs(net, x)  # a softmax "top-1" over independent attributes would mean nothing
    with pytest.raises(CvaeganError, match="is an attribute judge; this needs a class judge"):
        load_judge(attr_judge.path, kind="class")


def test_balanced_accuracy_sees_through_a_judge_that_always_says_off():
    targets = torch.tensor([[1.0], [0.0], [0.0], [0.0], [0.0], [0.0], [0.0], [0.0], [0.0], [0.0]])
    m = attribute_metrics(torch.zeros(10, 1), targets, ["Eyeglasses"])["Eyeglasses"]
    assert m["accuracy"] == pytest.approx(0.9) and m["balanced_accuracy"] == pytest.approx(0.5)
    assert m["base_rate"] == pytest.approx(0.1) and m["tpr"] == 0 and m["tnr"] == 1
    assert attribute_metrics(torch.ones(2, 1), torch.zeros(2, 1), ["A"])["A"]["balanced_accuracy"] is None


def test_unknown_repeated_or_empty_attributes_are_one_line_errors(attr_data, tmp_path):
    with pytest.raises(CvaeganError, match=r"no attribute 'Sqare'; did you mean Square\?"):
        train_judge(JudgeTrainOptions(data=attr_data, out=tmp_path / "j.pt", attributes="Red,Sqare",
                                      device="cpu", workers=0, cache_dir=tmp_path / "c"))
    assert not list(tmp_path.glob("c/*"))  # refused before decoding anything
    with pytest.raises(CvaeganError, match="it has 4: Square, Red, Coin, Never"):
        select_attributes(NAMES, "Eyeglasses")
    with pytest.raises(CvaeganError, match="twice"):
        select_attributes(NAMES, ["Red", "Red"])
    with pytest.raises(CvaeganError, match="empty"):
        select_attributes(NAMES, " , ")
    assert select_attributes(NAMES, "all") == [0, 1, 2, 3] and select_attributes(NAMES, "Coin, Red") == [2, 1]


def test_an_attribute_never_on_in_training_is_refused_by_name_and_left_out_of_all(attr_data, tmp_path):
    opts = dict(data=attr_data, resolution=16, width=4, epochs=1, batch_size=32, device="cpu", workers=0,
                cache_dir=tmp_path / "c")
    with pytest.raises(CvaeganError, match=r"Never \(never on\) in the 192 training images"):
        train_judge(JudgeTrainOptions(out=tmp_path / "a.pt", attributes="Red,Never", **opts))
    res = train_judge(JudgeTrainOptions(out=tmp_path / "b.pt", attributes="all", **opts))
    assert res.attribute_names == ["Square", "Red", "Coin"]


def test_dataset_without_targets_is_a_one_line_error(tmp_path):
    shapes = make_shapes_dataset(tmp_path / "shapes", classes=2, per_class=4, size=16)
    with pytest.raises(CvaeganError, match="no per-item targets"):
        train_judge(JudgeTrainOptions(data=shapes, out=tmp_path / "j.pt", attributes="Smiling", device="cpu",
                                      workers=0, cache_dir=tmp_path / "c"))


def test_version_1_class_judge_checkpoint_still_loads(tmp_path):
    cfg = {"num_classes": 3, "resolution": 16, "width": 4}  # a v1 config: no "kind"
    net = JudgeNet(JudgeConfig(**cfg))
    v1 = {"format": "cvaegan-judge", "version": 1, "config": cfg, "class_names": ["a", "b", "c"],
          "state_dict": net.state_dict(), "split": {"source": "seeded", "seed": 0, "fraction": 0.1,
                                                    "heldout": ["a/1.png"], "train": ["a/0.png"]},
          "train": {}, "metrics": {"train_acc": 1.0, "heldout_acc": 1.0}, "meta": {}}
    assert judge_kind(v1) == "class"
    torch.save(v1, tmp_path / "v1.pt")
    loaded, ckpt = load_judge(tmp_path / "v1.pt", kind="class")
    assert ckpt["kind"] == "class" and loaded.cfg.kind == "class" and loaded.cfg.num_classes == 3
    probs, feats = judge_outputs(loaded, torch.zeros(2, 3, 32, 32))
    assert probs.shape == (2, 3) and torch.allclose(probs.sum(1), torch.ones(2))
    assert feats.shape == (2, loaded.feature_dim)
    with pytest.raises(CvaeganError, match="is a class judge; this needs an attribute judge"):
        attribute_probabilities(loaded, torch.zeros(1, 3, 16, 16))
    with pytest.raises(CvaeganError, match="is a class judge; this needs an attribute judge"):
        load_judge(tmp_path / "v1.pt", kind="attributes")
    torch.save({**v1, "version": 3}, tmp_path / "v3.pt")
    with pytest.raises(CvaeganError, match="version 3; this cvaegan reads versions 1, 2"):
        load_judge(tmp_path / "v3.pt")
    torch.save({**v1, "version": 2, "kind": "attributes"}, tmp_path / "bad.pt")
    with pytest.raises(CvaeganError, match="damaged"):
        load_judge(tmp_path / "bad.pt")


def test_judge_train_cli_with_attributes(attr_data, tmp_path):
    out = tmp_path / "attr.pt"
    common = ["--epochs", "1", "--width", "4", "-b", "32", "-r", "32", "--device", "cpu", "--workers", "0",
              "--cache-dir", str(tmp_path / "c")]
    res = CliRunner().invoke(app, ["judge", "train", str(attr_data), "--attributes", "Square,Red", "--out", str(out),
                                   *common])
    assert res.exit_code == 0, res.output
    assert "held-out balanced accuracy" in res.output and "Square" in res.output
    _, ckpt = load_judge(out, kind="attributes")
    assert ckpt["attribute_names"] == ["Square", "Red"] and ckpt["config"]["resolution"] == 32
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["kind"] == "attributes" and set(record["metrics"]["heldout"]) == {"Square", "Red"}
    res = CliRunner().invoke(app, ["judge", "train", str(attr_data), "--attributes", "Smilling",
                                   "--out", str(tmp_path / "x.pt"), *common])
    assert res.exit_code == 1 and "error:" in res.output and "Traceback" not in res.output, res.output

"""The judge: an independent classifier, its held-out split and its checkpoint."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from cvaegan.cli.app import app
from cvaegan.data.dataset import build_cache
from cvaegan.runtime.errors import CvaeganError
from cvaegan.evaluation.judge import (JudgeConfig, JudgeNet, JudgeTrainOptions, load_judge, make_split,
                                          relative_names, train_judge)
from cvaegan.data.manifest import index_dataset
from tests.helpers import make_shapes_dataset


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    return make_shapes_dataset(tmp_path_factory.mktemp("shapes"), classes=3, per_class=10, size=32)


def test_judge_recognises_held_out_demo_faces_well_above_chance(trained_demo, tmp_path):
    data = trained_demo["data"]
    res = train_judge(JudgeTrainOptions(data=data, out=tmp_path / "j.pt", resolution=32, width=16, epochs=8,
                                        batch_size=32, seed=0, device="cpu", workers=0, cache_dir=tmp_path / "c"))
    net, ckpt = load_judge(res.path)  # weights_only=True inside
    chance = 1 / len(ckpt["class_names"])
    assert res.split_source == "manifest"
    assert res.heldout_acc >= max(0.5, 3 * chance), res
    # the held-out images are exactly the manifest's test items, and the judge never trained on them
    manifest = json.loads((data / "dataset.json").read_text())
    test_items = {it["file"] for it in manifest["items"] if it.get("split") == "test"}
    assert set(ckpt["split"]["heldout"]) == test_items
    assert not set(ckpt["split"]["heldout"]) & set(ckpt["split"]["train"])
    assert ckpt["metrics"]["heldout_acc"] == res.heldout_acc
    assert json.loads(res.path.with_suffix(".json").read_text())["metrics"]["n_heldout"] == len(test_items)
    assert isinstance(net, JudgeNet) and not net.training


def test_seeded_split_without_a_manifest_is_per_class_and_reproducible(shapes, tmp_path):
    cache = build_cache(shapes, 32, cache_dir=tmp_path)
    a, b = make_split(cache, 0.2, seed=0), make_split(cache, 0.2, seed=0)
    c = make_split(cache, 0.2, seed=1)
    assert a == b and a.heldout != c.heldout and a.source == "seeded"
    assert sorted(a.train + a.heldout) == list(range(len(cache)))
    held_labels = cache.labels[a.heldout].tolist()
    assert all(held_labels.count(k) == 2 for k in range(3))  # 20 % of 10 per class
    assert len(relative_names(cache)) == len(cache) == len(index_dataset(shapes))


def test_judge_is_not_the_models_classifier():
    net = JudgeNet(JudgeConfig(num_classes=4, resolution=32, width=8))
    logits, feature = net(torch.zeros(2, 3, 32, 32))
    assert logits.shape == (2, 4) and feature.shape == (2, 32)
    assert any("skip" in n for n, _ in net.named_modules())  # residual, unlike C's AlexNet stack


def test_judge_train_cli_and_bad_files(shapes, tmp_path, trained_demo):
    out = tmp_path / "judge.pt"
    res = CliRunner().invoke(app, ["judge", "train", str(shapes), "--epochs", "1", "--width", "8", "-b", "8",
                                   "--out", str(out), "--device", "cpu", "--workers", "0",
                                   "--cache-dir", str(tmp_path / "c")])
    assert res.exit_code == 0, res.output
    _, ckpt = load_judge(out)
    assert ckpt["split"]["source"] == "seeded" and ckpt["version"] == 2 and ckpt["kind"] == "class"
    assert not list(tmp_path.glob(".judge.pt.*"))  # atomic write leaves no temp file
    with pytest.raises(CvaeganError, match="model checkpoint, not a judge"):
        load_judge(trained_demo["ckpt"])
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CvaeganError, match="not a loadable judge"):
        load_judge(tmp_path / "junk.pt")
    res = CliRunner().invoke(app, ["judge", "train", str(tmp_path / "nope")])
    assert res.exit_code == 1 and "error:" in res.output and "Traceback" not in res.output

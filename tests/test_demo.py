"""The embedded default: procedural dataset, the demo pipeline, and that a briefly trained model
generates faces of the class it was asked for (judged by the model's own C)."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import torch
from typer.testing import CliRunner

from cvaegan.cli.app import app
from cvaegan.data.dataset import build_cache
from cvaegan.data.demo_faces import DemoDataConfig, identity_traits, write_demo_dataset
from cvaegan.families.checkpoint import model_from_checkpoint
from cvaegan.pipelines.sample import sample
from cvaegan.session import load_checkpoint

runner = CliRunner()


def _digest(folder):
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*.png"))}


def test_demo_dataset_is_a_pure_function_of_its_seed(tmp_path):
    cfg = DemoDataConfig(num_classes=3, per_class=4, size=32, seed=5)
    a, b = write_demo_dataset(tmp_path / "a", cfg), write_demo_dataset(tmp_path / "b", cfg)
    assert _digest(a) == _digest(b) and len(_digest(a)) == 12
    c = write_demo_dataset(tmp_path / "c", DemoDataConfig(num_classes=3, per_class=4, size=32, seed=6))
    assert _digest(c) != _digest(a)
    manifest = json.loads((a / "dataset.json").read_text())
    assert [c["name"] for c in manifest["classes"]] == [t["name"] for t in identity_traits(cfg)]
    assert {it["split"] for it in manifest["items"]} == {"train", "test"}


def test_demo_dataset_rerun_is_a_no_op(tmp_path):
    cfg = DemoDataConfig(num_classes=2, per_class=3, size=32)
    out = write_demo_dataset(tmp_path / "d", cfg)
    mtimes = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    write_demo_dataset(out, cfg)
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == mtimes


def test_identities_differ_more_than_images_of_one_identity(tmp_path):
    """The label must explain more of the image than the per-image attributes do, or the demo
    could not show a label/latent split."""
    data = write_demo_dataset(tmp_path / "d", DemoDataConfig(num_classes=4, per_class=12, size=32))
    cache = build_cache(data, 32, split=None, cache_dir=tmp_path / "cache")
    x = torch.from_numpy(cache.images.astype(np.float32)).flatten(1)
    y = torch.from_numpy(cache.labels.copy())
    means = torch.stack([x[y == k].mean(0) for k in range(4)])
    within = torch.stack([(x[y == k] - means[k]).pow(2).sum(1).mean() for k in range(4)]).mean()
    between = torch.pdist(means).pow(2).mean()
    assert between > 0.5 * within


def test_demo_cli_writes_a_report(tmp_path):
    out = tmp_path / "demo"
    res = runner.invoke(app, ["demo", "--out", str(out), "--classes", "3", "--per-class", "12", "--steps", "4",
                              "--batch-size", "8", "--device", "cpu"])
    assert res.exit_code == 0, res.output
    report = out / "report.html"
    assert str(report.resolve()) in res.output.replace("\n", "")
    html = report.read_text()
    for fig in ("samples_per_class.png", "same_z_every_class.png", "reconstructions.png", "<svg"):
        assert fig in html, fig
    stats = json.loads(next(out.glob("runs/*/report/stats.json")).read_text())
    assert stats["steps"] == 4 and stats["classes"] == 3 and 0 <= stats["c_accuracy_on_generated"] <= 1


def test_demo_rejects_bad_options_in_one_line(tmp_path):
    res = runner.invoke(app, ["demo", "--out", str(tmp_path), "--classes", "1"])
    assert res.exit_code != 0 and "Traceback" not in res.output and "--classes" in res.output


def test_generated_faces_are_recognised_as_their_class(trained_demo):
    """Issue 2's acceptance check in miniature: after a short run, the model's own classifier puts
    G's samples in the class they were generated for far more often than chance."""
    model = model_from_checkpoint(load_checkpoint(trained_demo["ckpt"]), "cpu").eval()
    k = model.num_classes
    labels = torch.arange(k).repeat_interleave(30)
    acc = (model.classify(sample(model, labels, seed=123)).argmax(1) == labels).float().mean().item()
    assert acc > 2.5 / k, f"C recognises {acc:.0%} of generated faces (chance {1 / k:.0%})"


def test_demo_rejects_a_bad_precision_before_writing_anything(tmp_path):
    out = tmp_path / "demo"
    res = runner.invoke(app, ["demo", "--out", str(out), "--precision", "fp16"])
    assert res.exit_code == 1 and "Traceback" not in res.output and "unknown precision 'fp16'" in res.output
    assert not out.exists()  # the check comes before the dataset is drawn


def test_shared_looks_give_every_identity_each_look_with_exact_ground_truth(tmp_path):
    """The style-transfer variant (issue 14's cartoon faces): look j is the same pose, light and
    background for every identity (so "identity c in look j" is the item of c and j, redrawn pixel
    for pixel), a neutral render per identity is the reference style, every fifth look is held out,
    and the manifest says so (styles spec, no flipping)."""
    from PIL import Image

    from cvaegan.data.demo_faces import NEUTRAL_LOOK, render_face
    from cvaegan.data.manifest import index_dataset

    cfg = DemoDataConfig(num_classes=3, per_class=6, size=32, seed=2, shared_looks=True)
    data = write_demo_dataset(tmp_path / "looks", cfg)
    manifest = json.loads((data / "dataset.json").read_text())
    assert manifest["styles"] == {"name": "look", "reference": NEUTRAL_LOOK} and manifest["flip"] is False
    index = index_dataset(data)
    assert len(index.files) == 3 * 7
    by_look: dict[str, list[dict]] = {}
    for it in manifest["items"]:
        by_look.setdefault(it["style"], []).append(it)
    assert set(by_look) == {f"{j:04d}" for j in range(6)} | {NEUTRAL_LOOK}
    for look, its in by_look.items():
        assert sorted(it["class"] for it in its) == [0, 1, 2]
        assert all(it["attributes"] == its[0]["attributes"] for it in its)  # one look for all
        held = look != NEUTRAL_LOOK and int(look) % 5 == 0
        assert {it["split"] for it in its} == {"test" if held else "train"}
        assert not any(it["target"][k] for it in its for k in range(4))  # neutral expression, no glasses/hat
    assert by_look["0001"][0]["attributes"]["background"] != by_look["0002"][0]["attributes"]["background"]
    traits = manifest["traits"]
    it = by_look["0003"][1]
    redrawn = np.asarray(render_face(traits[it["class"]], by_look["0003"][0]["attributes"], 32))
    assert np.array_equal(redrawn, np.asarray(Image.open(data / it["file"]).convert("RGB")))
    again = write_demo_dataset(tmp_path / "looks2", cfg)
    assert _digest(data) == _digest(again)  # a pure function of the seed, like the plain demo data

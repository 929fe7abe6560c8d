"""`cvaegan edit` (IFcVAE-GAN): edits on cartoons do what is asked against the generator's exact
ground truth, the factorisation term removes attribute information from z, raw photos change only
inside the face region, and bad requests are one-line errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from cvaegan.apps.edit import EditRequest, edit_values, face_mask, parse_sets
from cvaegan.apps.paste import changed_band
from cvaegan.cli.app import app
from cvaegan.data.demo_faces import render_item
from cvaegan.data.images import from_hwc_uint8
from cvaegan.data.manifest import index_dataset
from cvaegan.runtime.errors import CvaeganError
from cvaegan.session import open_session
from tests.apps_common import DETECTOR

runner = CliRunner()


def _held_out(trained):
    """Test-split cartoons: images (N, 3, 32, 32), their manifest items, the manifest."""
    index = index_dataset(trained["data"]).subset("test")
    manifest = index.manifest
    by_file = {it["file"]: it for it in manifest["items"]}
    items = [by_file[f.relative_to(trained["data"]).as_posix()] for f in index.files]
    x = from_hwc_uint8(np.stack([np.asarray(Image.open(f).convert("RGB")) for f in index.files]))
    return x, items, manifest


def test_cartoon_edits_move_towards_the_exact_ground_truth_and_read_as_requested(trained_editor):
    """Flip Wearing_Hat and Eyeglasses of held-out cartoons: an edit should be nearer the
    generator's re-render of the same face with the attribute flipped than the plain
    reconstruction is (the edit, not the reconstruction, moved it there), and E should read the
    requested value on it. A G that ignores y fails both (its edit is the reconstruction, which E
    reads as the original value). Thresholds are for this short run (1,200 steps at width 0.25),
    whose reconstructions are still poor: measured 81 % / 56 % nearer, 61 % / 86 % read (hat /
    glasses); the means must reach 60 %."""
    session = open_session(trained_editor["ckpt"], device="cpu", precision="fp32")
    names = list(session.condition.names)
    x, items, manifest = _held_out(trained_editor)
    recon = session.model.reconstruct(x)

    def mse(u, v):
        return (u - v).pow(2).flatten(1).mean(1)

    moved, success = [], []
    for attribute in ("Wearing_Hat", "Eyeglasses"):
        a = names.index(attribute)
        want = torch.tensor([0.0 if it["attributes"][attribute] else 1.0 for it in items])
        truth = from_hwc_uint8(np.stack([np.asarray(render_item(manifest, it, {attribute: int(w)}))
                                         for it, w in zip(items, want)]))
        edits = torch.cat([edit_values(session, x[i:i + 1], {a: float(want[i])})[0] for i in range(len(x))])
        moved.append(float((mse(edits, truth) < mse(recon, truth)).float().mean()))
        read = session.model.attributes(edits)[:, a]
        success.append(float(((read >= 0.5) == (want >= 0.5)).float().mean()))
        print(f"{attribute}: {moved[-1]:.0%} of edits nearer the flipped ground truth than the reconstruction; "
              f"E reads the requested value on {success[-1]:.0%}")
    assert np.mean(moved) >= 0.6 and min(moved) > 0.3, moved
    assert np.mean(success) >= 0.6 and min(success) > 0.3, success


def _probe_accuracy(model, x: torch.Tensor, y: torch.Tensor, seed: int = 0) -> float:
    """Held-out accuracy of a fresh MLP probe that reads the attributes from μ(x): how much of y is
    left in z (half the images train it, half score it)."""
    mu = model.encode(x)[0]
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(len(x), generator=g)
    tr, te = perm[: len(x) // 2], perm[len(x) // 2:]
    torch.manual_seed(seed)
    probe = torch.nn.Sequential(torch.nn.Linear(mu.shape[1], 64), torch.nn.ReLU(), torch.nn.Linear(64, y.shape[1]))
    opt = torch.optim.Adam(probe.parameters(), lr=3e-3, weight_decay=1e-4)
    m, s = mu[tr].mean(0), mu[tr].std(0) + 1e-6
    for _ in range(400):
        opt.zero_grad()
        torch.nn.functional.binary_cross_entropy_with_logits(probe((mu[tr] - m) / s), y[tr]).backward()
        opt.step()
    with torch.no_grad():
        return float(((probe((mu[te] - m) / s) > 0) == (y[te] > 0.5)).float().mean())


def test_factorisation_term_removes_attribute_information_from_z(trained_editor, tmp_path):
    """The same run without the adversarial term (α = 0) leaves more of y readable from z by a
    fresh probe than the run with it: the term does what it is for.

    Both runs keep their learning rates constant (`lr_decay=0`) and train the paper's terms only
    (no training-edit term, `lambda_class_edit=0`), so that the comparison is of the term alone.
    Measured (2026-12-07): 66.4 % with the term, 75.0 % without. Under the default
    schedule (rates falling to 0 over the last 30 %) the same pair measured 73.8 % and 76.7 %:
    as the rates fall, A stops adapting and E only has to fool a frozen A (README, "Attribute
    editing")."""
    from rich.console import Console

    from cvaegan.families.ifcvaegan import IFLossConfig, IFOptimConfig
    from cvaegan.pipelines.train import TrainOptions, train
    from tests.conftest import TRAINED_EDITOR_STEPS

    def run(name: str, lambda_aux: float):
        return train(TrainOptions(data=trained_editor["data"], out=tmp_path, name=name, model="ifcvaegan",
                                  resolution=32, width=0.25, latent_dim=32, batch_size=32, steps=TRAINED_EDITOR_STEPS,
                                  seed=0, device="cpu", workers=0, cache_dir=tmp_path / "cache", log_every=50,
                                  sample_every=10_000, ckpt_every=10_000, precision="fp32",
                                  loss=IFLossConfig(lambda_aux=lambda_aux, lambda_class_edit=0.0),
                                  optim=IFOptimConfig(lr_decay=0.0)),
                     Console(stderr=True, quiet=True)).checkpoint

    index = index_dataset(trained_editor["data"])
    x = from_hwc_uint8(np.stack([np.asarray(Image.open(f).convert("RGB")) for f in index.files]))
    y = torch.tensor(index.targets)
    with_term, without = (_probe_accuracy(open_session(run(name, aux), device="cpu", precision="fp32").model, x, y)
                          for name, aux in (("aux", IFLossConfig().lambda_aux), ("no-aux", 0.0)))
    print(f"probe accuracy of y from z: with the factorisation term {with_term:.3f}, without {without:.3f}")
    assert with_term < without - 0.03


def test_edit_cli_writes_the_edit_its_strips_and_record(trained_editor, tmp_path):
    index = index_dataset(trained_editor["data"]).subset("test")
    out = tmp_path / "e.png"
    ck = str(trained_editor["ckpt"])
    r = runner.invoke(app, ["edit", str(index.files[0]), "--set", "Wearing_Hat=1", "--set", "1=0", "--sweep",
                            "Smiling", "--out", str(out), "--ckpt", ck, "--device", "cpu"])
    assert r.exit_code == 0, r.output
    assert Image.open(out).size == (32, 32)
    assert Image.open(tmp_path / "e-strip.png").size == (3 * 32 + 4 * 2, 36)
    assert Image.open(tmp_path / "e-sweep.png").size == (9 * 32 + 10 * 2, 36)
    rec = json.loads(out.with_suffix(".json").read_text())
    assert rec["command"] == "edit" and rec["set"] == {"Wearing_Hat": 1.0, "Eyeglasses": 0.0}
    assert rec["condition"][rec["attributes"].index("Wearing_Hat")] == 1.0
    assert rec["sweep"]["values"] == [-1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0]
    assert set(rec["reading"]) == set(rec["attributes"])

    for args, msg in ((["--set", "Smilling=1"], "error: unknown attribute 'Smilling'; closest: Smiling"),
                      ([], "error: nothing to edit"),
                      (["--set", "Smiling=yes"], "error: --set 'Smiling=yes': the value must be a number"),
                      (["--sweep", "Hat"], "error: unknown attribute 'Hat'")):
        r = runner.invoke(app, ["edit", str(index.files[0]), *args, "--out", str(out), "--ckpt", ck])
        assert r.exit_code == 1 and r.output.startswith(msg) and "Traceback" not in r.output, r.output


def test_a_class_conditioned_model_cannot_edit(trained_demo, tmp_path):
    index = index_dataset(trained_demo["data"])
    r = runner.invoke(app, ["edit", str(index.files[0]), "--set", "Smiling=1", "--ckpt", str(trained_demo["ckpt"]),
                            "--out", str(tmp_path / "e.png")])
    assert r.exit_code == 1 and "cannot edit" in r.output and "ifcvaegan" in r.output, r.output


def test_parse_sets_takes_names_or_indices_and_refuses_repeats():
    names = ["Smiling", "Eyeglasses"]
    assert parse_sets(["smiling=1", "1=0.5"], names) == {0: 1.0, 1: 0.5}
    with pytest.raises(CvaeganError, match="twice"):
        parse_sets(["Smiling=1", "0=0"], names)
    with pytest.raises(CvaeganError, match="out of range"):
        parse_sets(["2=1"], names)
    with pytest.raises(CvaeganError, match="nothing to edit"):
        EditRequest("x.png")


def test_face_mask_covers_the_template_features_and_not_the_corners():
    m = face_mask(64)
    for fx, fy in ((0.3663, 0.3472), (0.6337, 0.3472), (0.5, 0.5), (0.3892, 0.656), (0.6108, 0.656)):
        assert m[int(fy * 64), int(fx * 64)]
    assert not m[:6].any() and not m[:, :6].any() and not m[:, -6:].any()
    assert 0.25 < m.mean() < 0.5


@pytest.mark.data
def test_raw_photo_edit_changes_only_the_face_region(trained_editor, test_data, tmp_path):
    from cvaegan.apps.faces import load_inputs

    photos = sorted((test_data / "faces" / "celeba_wild" / "images").rglob("*.jpg"), key=lambda p: p.stat().st_size)
    photo = photos[len(photos) // 3]
    det = str(test_data / DETECTOR)
    out = tmp_path / "edited.png"
    r = runner.invoke(app, ["edit", str(photo), "--face", "0", "--set", "Wearing_Hat=1", "--feather", "2",
                            "--detector", det, "--out", str(out), "--ckpt", str(trained_editor["ckpt"]),
                            "--device", "cpu"])
    assert r.exit_code == 0, r.output
    assert "face region" in r.output
    inp = load_inputs([photo], 32, "raw", det, 0)[0]
    original = inp.photo
    edited = np.asarray(Image.open(out).convert("RGB"))
    assert edited.shape == original.shape
    band = changed_band(inp.matrix, face_mask(32), 2, original.shape[:2])
    changed = (edited != original).any(axis=2)
    assert changed.any()
    assert not changed[~band].any(), f"{int(changed[~band].sum())} pixels changed outside the face region"
    assert band.mean() < 0.5


def test_detail_kept_edit_is_nearer_the_input_and_the_cli_records_it(trained_editor, tmp_path):
    """`--detail` adds the photo's detail back where the edit changes little: the edit stays nearer
    the input than the paper's G(μ(x), y'), and the edited attribute is still read as asked."""
    index = index_dataset(trained_editor["data"]).subset("test")
    ck = str(trained_editor["ckpt"])
    outs = {}
    for flag in ("--no-detail", "--detail"):
        out = tmp_path / f"e{flag}.png"
        r = runner.invoke(app, ["edit", str(index.files[0]), "--set", "Eyeglasses=1", flag, "--out", str(out),
                                "--ckpt", ck, "--device", "cpu"])
        assert r.exit_code == 0, r.output
        outs[flag] = np.asarray(Image.open(out).convert("RGB")).astype(np.float64)
        assert json.loads(out.with_suffix(".json").read_text())["detail"] == (
            None if flag == "--no-detail" else "kept where the edit changes less than G's error")
    x = np.asarray(Image.open(index.files[0]).convert("RGB")).astype(np.float64)
    err = {k: float(((v - x) ** 2).mean()) for k, v in outs.items()}
    assert err["--detail"] < 0.8 * err["--no-detail"], err
    session = open_session(trained_editor["ckpt"], device="cpu", precision="fp32")
    a = session.condition.names.index("Eyeglasses")
    read = session.model.attributes(from_hwc_uint8(outs["--detail"].astype(np.uint8)[None]))[0, a]
    assert read > 0.5, f"E reads glasses at {float(read):.2f} on the detail-kept edit"


def test_evaluate_scores_the_papers_edit_and_the_detail_kept_one_alike(trained_editor, tmp_path):
    """`cvaegan evaluate` of an editor: every attribute's numbers for G(μ(x), y'), for the
    detail-kept edit and for the plain residual; the detail-kept edit is nearer the input and, on
    cartoons, is scored against the exact ground truth too."""
    from cvaegan.evaluation.evaluate import EvaluateOptions, evaluate
    from cvaegan.evaluation.judge import JudgeTrainOptions, train_judge

    judge = train_judge(JudgeTrainOptions(data=trained_editor["data"], out=tmp_path / "judge.pt", resolution=32,
                                          width=8, epochs=2, batch_size=32, device="cpu", workers=0,
                                          cache_dir=tmp_path, attributes="all")).path
    out = tmp_path / "eval.json"
    rec = evaluate(EvaluateOptions(ckpt=trained_editor["ckpt"], judge=judge, data=trained_editor["data"],
                                   device="cpu", out=out, workers=0, cache_dir=tmp_path, edit_images=40))
    assert rec["kind"] == "edit" and json.loads(out.read_text())["attributes"] == rec["attributes"]
    for name, e in rec["edits"].items():
        for variant in (e, e["detail"], e["residual"]):
            assert 0.0 <= variant["success"] <= 1.0 and 0.0 <= variant["others_kept"] <= 1.0
            assert variant["identity_distance"] >= 0 and math.isfinite(variant["psnr_to_ground_truth_db"])
        assert e["detail"]["psnr_to_input_db"] > e["psnr_to_input_db"], name
        assert e["residual"]["psnr_to_input_db"] > e["psnr_to_input_db"], name
    assert Path(rec["detail_grid"]).is_file() and len(rec["detail_grid_rows"]) == 2 + 2 * len(rec["attributes"])

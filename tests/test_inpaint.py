"""`cvaegan inpaint`: Eq. 8 in aligned space, and raw photos repaired and pasted back."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from cvaegan.apps.common import choose_class
from cvaegan.apps.fit import fit_latent, gaussian_misfit
from cvaegan.apps.inpaint import box_mask, fill_masked, inpaint, inpaint_fit, random_patch
from cvaegan.apps.paste import changed_band, feathered_alpha
from cvaegan.cli.app import app
from tests.apps_common import DETECTOR, demo_model, held_out

runner = CliRunner()


def _masks(n: int, res: int = 32) -> torch.Tensor:
    """§5.4's random patch (50/128 of the side) at a different place in every image."""
    return torch.stack([torch.from_numpy(box_mask(res, res, random_patch(res, seed)))[None] for seed in range(n)])


def test_inpainting_changes_only_masked_pixels(trained_demo):
    loaded = demo_model(trained_demo)
    x, labels, _ = held_out(trained_demo)
    m = _masks(len(x))
    x0 = torch.stack([fill_masked(xi, mi, "noise", i) for i, (xi, mi) in enumerate(zip(x, m))])
    c = loaded.model.class_vector(torch.tensor(labels))
    steps = inpaint(loaded, x0, m, c, iters=4)
    assert len(steps) == 5
    keep = ~m.expand_as(x0)
    for s in steps[1:]:
        assert torch.equal(s[keep], x0[keep])           # bit for bit outside the mask
        assert not torch.equal(s[~keep], x0[~keep])     # and the masked pixels did change


def test_masked_region_error_falls_over_the_first_iterations(trained_demo):
    loaded = demo_model(trained_demo)
    x, labels, _ = held_out(trained_demo)
    m = _masks(len(x))
    # Fig. 7b: the patch is corrupted with noise; x0 is what E first sees
    x0 = torch.stack([fill_masked(xi, mi, "noise", i) for i, (xi, mi) in enumerate(zip(x, m))])
    c = torch.stack([choose_class(loaded, xi, None).vector for xi in x0])  # C's posterior, as the CLI does
    steps = inpaint(loaded, x0, m, c, iters=4)
    mm = m.expand_as(x)
    err = [float(((s - x)[mm] ** 2).mean()) for s in steps]
    print("\nmasked-region MSE by iteration (0 = noise-corrupted input): " + ", ".join(f"{e:.4f}" for e in err))
    assert err[1] < 0.6 * err[0]            # one pass of Eq. 8 repairs most of the corruption
    assert max(err[1:]) < 0.6 * err[0]      # and iterating keeps it repaired (a fixed point, not drift)
    # Later passes need not improve on the first with a briefly trained model: with the 400-step
    # demo model they settle within 5% of it (0.238, 0.249, 0.247, 0.247), so only the first
    # iterations' fall is asserted; Fig. 7's continued refinement is a claim about a trained model.


def test_inpaint_cli_on_an_aligned_crop(trained_demo, tmp_path):
    _, _, files = held_out(trained_demo)
    out = tmp_path / "fixed.png"
    src = np.asarray(Image.open(files[5]).convert("RGB"))
    m = box_mask(32, 32, (8, 10, 12, 9))
    for method, images in (("eq8", 5), ("fit", 4)):  # original, x0, then 3 iterations / E once and the fit
        r = runner.invoke(app, ["inpaint", str(files[5]), "--box", "8,10,12,9", "--method", method, "--iters", "3",
                                "--fit-steps", "20", "--out", str(out), "--ckpt", str(trained_demo["ckpt"]),
                                "--device", "cpu"])
        assert r.exit_code == 0, r.output
        assert "C's posterior" in r.output
        res = np.asarray(Image.open(out))
        assert np.array_equal(res[~m], src[~m]) and not np.array_equal(res[m], src[m])
        assert Image.open(tmp_path / "fixed-strip.png").size == (images * 32 + (images + 1) * 2, 36)
        rec = json.loads(out.with_suffix(".json").read_text())
        assert rec["mask"]["source"] == "box" and rec["mask"]["fill"] == "keep"
        assert rec["class"]["source"] == "posterior" and rec["method"] == method

    r = runner.invoke(app, ["inpaint", str(files[5]), "--class", "2", "--iters", "2", "--out", str(out),
                            "--ckpt", str(trained_demo["ckpt"]), "--device", "cpu"])
    assert r.exit_code == 0 and "given by --class" in r.output
    assert json.loads(out.with_suffix(".json").read_text())["mask"]["source"] == "random patch"

    r = runner.invoke(app, ["inpaint", str(files[5]), "--box", "1,2,3", "--ckpt", str(trained_demo["ckpt"])])
    assert r.exit_code == 1 and r.output.startswith("error: --box") and "Traceback" not in r.output
    r = runner.invoke(app, ["inpaint", str(files[5]), "--method", "paint", "--ckpt", str(trained_demo["ckpt"])])
    assert r.exit_code == 1 and r.output.startswith("error: --method paint") and "Traceback" not in r.output


def test_inpaint_fit_matches_the_known_pixels_better_than_e_alone(trained_demo):
    """The z search fits the pixels outside the hole: G(z*, c) must be closer to them than G of
    E's code, the known pixels must come back bit for bit, and the hole must be G(z*, c)'s."""
    loaded = demo_model(trained_demo)
    x, labels, _ = held_out(trained_demo)
    x, labels = x[:8], labels[:8]
    m = torch.from_numpy(box_mask(32, 32, (8, 8, 14, 12)))[None, None].expand(len(x), 1, 32, 32)
    x0 = torch.where(m, torch.zeros_like(x), x)
    c = loaded.model.class_vector(torch.tensor(labels))
    z0, _ = loaded.model.encode(x0, c)
    known = ~m.expand_as(x)

    def misfit(img: torch.Tensor) -> float:
        return float((img - x0)[known].pow(2).mean())

    out = inpaint_fit(loaded, x0, m, c, steps=30)
    assert len(out) == 3
    torch.testing.assert_close(out[-1][known], x0[known], rtol=0, atol=0)
    assert not torch.equal(out[-1][m.expand_as(x)], x0[m.expand_as(x)])
    z = fit_latent(loaded, c, z0, gaussian_misfit(x0, 0.1, weight=(~m).float()), steps=30)
    assert misfit(loaded.model.generate(z, c)) < 0.8 * misfit(loaded.model.generate(z0, c))


def _small_wild_photo(test_data):
    photos = sorted((test_data / "faces" / "celeba_wild" / "images").rglob("*.jpg"), key=lambda p: p.stat().st_size)
    return photos[len(photos) // 3]


@pytest.mark.data
def test_inpaint_raw_photo_is_pasted_back_with_only_a_feathered_band_changed(trained_demo, test_data, tmp_path):
    from cvaegan.apps.faces import load_inputs
    from cvaegan.apps.inpaint import mask_to_model_space

    photo = _small_wild_photo(test_data)
    det = str(test_data / DETECTOR)
    inp = load_inputs([photo], 32, "raw", det, 0)[0]
    # a box around the nose tip, in photo pixels: the crop centre mapped back into the photo
    inv = np.linalg.inv(np.vstack([inp.matrix, [0, 0, 1]]))[:2]
    cx, cy = inv @ np.array([15.5, 15.5, 1.0])
    side = max(4, int(10 / np.sqrt(abs(np.linalg.det(inp.matrix[:, :2])))))
    box = (int(cx - side / 2), int(cy - side / 2), side, side)
    out = tmp_path / "photo_fixed.png"
    r = runner.invoke(app, ["inpaint", str(photo), "--face", "0", "--box", ",".join(map(str, box)), "--iters", "3",
                            "--feather", "2", "--detector", det, "--out", str(out),
                            "--ckpt", str(trained_demo["ckpt"]), "--device", "cpu"])
    assert r.exit_code == 0, r.output
    assert "pasted back" in r.output
    original = inp.photo
    repaired = np.asarray(Image.open(out).convert("RGB"))
    assert repaired.shape == original.shape
    h, w = original.shape[:2]
    m = mask_to_model_space(box_mask(h, w, box), inp, 32)
    band = changed_band(inp.matrix, m, 2, (h, w))
    changed = (repaired != original).any(axis=2)
    assert changed.any()
    assert not changed[~band].any(), f"{int(changed[~band].sum())} pixels changed outside the feathered band"
    assert band.mean() < 0.2  # the band is a small part of the photo, so the check above means something
    # inside the box (alpha = 1 there) the photo now shows the model's pixels
    x, y, bw, bh = box
    assert changed[y + bh // 4:y + 3 * bh // 4, x + bw // 4:x + 3 * bw // 4].mean() > 0.5


def test_feathered_alpha_is_one_on_the_mask_and_zero_beyond_the_feather():
    m = np.zeros((32, 32), bool)
    m[10:20, 12:18] = True
    a = feathered_alpha(m, 3)
    assert (a[m] == 1).all()
    assert a[10:20, 19].max() > 0 and a[10:20, 19].max() < 1
    assert (a[:, 22:] == 0).all() and (a[:6] == 0).all()


@pytest.mark.data
def test_photos_with_no_face_or_several_faces_get_one_line_errors(trained_demo, test_data, tmp_path):
    blank = tmp_path / "blank.png"
    Image.new("RGB", (300, 200), (128, 128, 128)).save(blank)
    det = str(test_data / DETECTOR)
    ck = str(trained_demo["ckpt"])
    r = runner.invoke(app, ["inpaint", str(blank), "--detector", det, "--ckpt", ck, "--out", str(tmp_path / "o.png")])
    assert r.exit_code == 1 and r.output.startswith("error:") and "no face found" in r.output
    assert len(r.output.strip().splitlines()) == 1
    group = test_data / "faces" / "wild" / "insightface" / "t1.jpg"
    r = runner.invoke(app, ["inpaint", str(group), "--detector", det, "--ckpt", ck, "--out", str(tmp_path / "o.png")])
    assert r.exit_code == 1 and "faces found; choose one with --face INDEX" in r.output
    assert len(r.output.strip().splitlines()) == 1
    r = runner.invoke(app, ["inpaint", str(group), "--face", "1", "--detector", det, "--ckpt", ck,
                            "--out", str(tmp_path / "g.png"), "--iters", "1"])
    assert r.exit_code == 0, r.output
    assert np.asarray(Image.open(tmp_path / "g.png")).shape[:2] == (886, 1280)

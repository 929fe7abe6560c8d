"""`cvaegan morph`: §5.3 latent interpolation and label morphing."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from cvaegan.apps.morph import label_morph, latent_morph
from cvaegan.cli.app import app
from cvaegan.runtime.device import autocast, resolve_precision
from tests.apps_common import DETECTOR, demo_model, held_out

runner = CliRunner()


def _mse(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(((a - b) ** 2).mean())


@pytest.fixture(scope="module")
def encoding_model(trained_demo, tmp_path_factory):
    """A model whose codes already describe single images. The shared 300-step CVAE-GAN has learnt
    its classes but not yet instance codes (G(E(A)) is no closer to A than G(E(B)) is, for A, B
    of one class: MSE 0.175 vs 0.176), so the morph property cannot show on it. A `cvae` (the same
    E and G, no D and C) at lr 1e-3 gets there in 100 steps (~15 s on 2 cores)."""
    from rich.console import Console

    from cvaegan.session import open_session
    from cvaegan.pipelines.train import TrainOptions, train
    from cvaegan.families.cvaegan import OptimConfig

    root = tmp_path_factory.mktemp("morph_cvae")
    res = train(TrainOptions(data=trained_demo["data"], out=root / "runs", name="cvae", model="cvae", resolution=32,
                             width=0.25, latent_dim=16, optim=OptimConfig(1e-3, 1e-3, 1e-3, 1e-3), batch_size=32,
                             steps=100, seed=1, device="cpu", workers=0, cache_dir=root / "cache", log_every=50,
                             sample_every=10_000, ckpt_every=10_000), Console(stderr=True, quiet=True))
    return open_session(res.checkpoint, device="cpu")


def test_morph_endpoints_reconstruct_their_inputs_better_than_the_midpoint(trained_demo, encoding_model):
    loaded = encoding_model
    x, labels, _ = held_out(trained_demo)
    c_all = loaded.model.class_vector(torch.tensor(labels))
    mu, _ = loaded.model.encode(x, c_all)
    perm = torch.tensor([(i // 4) * 4 + (i % 4 + 1) % 4 for i in range(len(x))])  # another image, same class
    own = _mse(loaded.model.generate(mu, c_all), x)
    other = _mse(loaded.model.generate(mu[perm], c_all), x)
    assert own < other, f"the model does not encode single images yet ({own:.4f} vs {other:.4f})"
    end_a, mid_a, end_b, mid_b = [], [], [], []
    for k in sorted(set(labels)):
        i, j = [n for n, y in enumerate(labels) if y == k][:2]
        c = torch.nn.functional.one_hot(torch.tensor(k), loaded.num_classes).float()
        frames, alphas = latent_morph(loaded, x[i], x[j], c, steps=5)
        assert frames.shape == (5, 3, 32, 32)
        assert alphas[0] == 1 and alphas[-1] == 0
        end_a.append(_mse(frames[0], x[i]))
        mid_a.append(_mse(frames[2], x[i]))
        end_b.append(_mse(frames[-1], x[j]))
        mid_b.append(_mse(frames[2], x[j]))
    print(f"\nreconstruction MSE: own code {own:.4f}, another image's code {other:.4f}")
    print(f"morph MSE to A: end {np.mean(end_a):.4f} vs mid {np.mean(mid_a):.4f}; "
          f"to B: end {np.mean(end_b):.4f} vs mid {np.mean(mid_b):.4f}")
    assert np.mean(end_a) < np.mean(mid_a)
    assert np.mean(end_b) < np.mean(mid_b)
    # and pair by pair, for most pairs (6 classes)
    assert sum(e < m for e, m in zip(end_a + end_b, mid_a + mid_b)) >= 0.75 * 2 * len(end_a)


def test_label_morph_keeps_z_and_moves_the_class(trained_demo):
    loaded = demo_model(trained_demo)
    eye = torch.eye(loaded.num_classes)
    p_from, p_to = [], []
    for seed in range(4):
        z = torch.randn(loaded.model.latent_dim, generator=torch.Generator().manual_seed(seed))
        frames, t = label_morph(loaded, z, eye[0], eye[3], steps=4)
        assert t[0] == 0 and t[-1] == 1
        with autocast(loaded.device):  # the precision morph runs in; bf16 rounding depends on the batch
            ends = [loaded.model.generate(z[None], eye[k][None])[0] for k in (0, 3)]
        tol = 2e-2 if resolve_precision(loaded.device) == "bf16" else 1e-5
        torch.testing.assert_close(frames[0], ends[0], atol=tol, rtol=0)
        torch.testing.assert_close(frames[-1], ends[1], atol=tol, rtol=0)
        assert (frames[0] - ends[1]).abs().max() > 10 * tol  # the tolerance cannot hide the wrong class
        post = loaded.model.classify(frames)
        p_from.append(post[:, 0])
        p_to.append(post[:, 3])
    p_from, p_to = torch.stack(p_from).mean(0), torch.stack(p_to).mean(0)
    print(f"\nC's P(class 0) along the label morph: {p_from.tolist()}; P(class 3): {p_to.tolist()}")
    assert p_from[0] > p_from[-1] and p_to[-1] > p_to[0]  # C sees the identity move from 0 towards 3


def test_morph_cli_writes_strip_gif_and_prints_the_predicted_class(trained_demo, tmp_path):
    _, labels, files = held_out(trained_demo)
    a, b = files[0], files[1]
    out = tmp_path / "m.png"
    r = runner.invoke(app, ["morph", str(a), str(b), "--ckpt", str(trained_demo["ckpt"]), "--steps", "6",
                            "--out", str(out), "--device", "cpu"])
    assert r.exit_code == 0, r.output
    assert "C's prediction" in r.output
    strip = Image.open(out)
    assert strip.size == (8 * 32 + 9 * 2, 32 + 2 * 2)  # A, 6 frames, B with 2 px padding
    gif = Image.open(out.with_suffix(".gif"))
    assert gif.n_frames == 2 * 6 - 2
    rec = json.loads(out.with_suffix(".json").read_text())
    assert rec["mode"] == "latent" and rec["class"]["source"] == "prediction" and len(rec["alpha"]) == 6

    r = runner.invoke(app, ["morph", "--from-class", "0", "--to-class", "4", "--ckpt", str(trained_demo["ckpt"]),
                            "--out", str(tmp_path / "l.png"), "--device", "cpu"])
    assert r.exit_code == 0, r.output
    assert Image.open(tmp_path / "l.gif").n_frames == 2 * 8 - 2

    r = runner.invoke(app, ["morph", str(a), "--ckpt", str(trained_demo["ckpt"])])
    assert r.exit_code == 1 and r.output.strip().startswith("error: give two images")


@pytest.mark.data
def test_morph_raw_photos_are_aligned_first(trained_demo, test_data, tmp_path):
    wild = sorted((test_data / "faces" / "celeba_wild" / "images").rglob("*.jpg"), key=lambda p: p.stat().st_size)
    a, b = wild[0], wild[1]
    out = tmp_path / "raw.png"
    r = runner.invoke(app, ["morph", str(a), str(b), "--face", "0", "--detector", str(test_data / DETECTOR),
                            "--ckpt", str(trained_demo["ckpt"]), "--out", str(out), "--device", "cpu"])
    assert r.exit_code == 0, r.output
    rec = json.loads(out.with_suffix(".json").read_text())
    assert all(i["raw"] and i["faces_found"] >= 1 for i in rec["inputs"])
    assert Image.open(out).size[1] == 32 + 4

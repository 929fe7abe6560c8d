"""`cvaegan superres`: fit z (or iterate the reconstruction), keep the input's low band."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from cvaegan.apps.common import psnr
from cvaegan.apps.superres import bicubic, down, fit_latent, project, super_resolve, super_resolve_fit
from cvaegan.cli.app import app
from cvaegan.data.images import to_pil
from tests.apps_common import demo_model, held_out

runner = CliRunner()


@pytest.mark.parametrize("scale", [2, 4])
def test_superres_output_downsamples_back_to_its_input(trained_demo, scale):
    loaded = demo_model(trained_demo)
    x, labels, _ = held_out(trained_demo)
    y = down(x, scale)
    c = loaded.model.class_vector(torch.tensor(labels))
    steps = super_resolve(loaded, y, c, scale, iters=3)
    out = steps[-1]
    assert out.shape == x.shape and out.min() >= -1 and out.max() <= 1
    consistency = psnr(down(out, scale), y)
    ours, base = psnr(out, x), psnr(bicubic(y, scale), x)
    print(f"\nx{scale} on {len(x)} held-out crops: down(result) vs input {consistency:.1f} dB; "
          f"PSNR vs original: ours {ours:.2f} dB, bicubic {base:.2f} dB")
    assert consistency > 40.0
    assert not torch.allclose(out, bicubic(y, scale), atol=1e-3)  # the model did contribute detail
    assert ours > base - 3.0  # not a wreck (the ours-vs-bicubic numbers are printed above)


def test_projection_replaces_the_low_band():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 32, 32, generator=g) * 1.6 - 0.8
    y = torch.rand(2, 3, 8, 8, generator=g) * 1.6 - 0.8
    one = (x + torch.nn.functional.interpolate(y - down(x, 4), scale_factor=4, mode="bicubic")).clamp(-1, 1)
    torch.testing.assert_close(project(x, y, 4, steps=1), one)  # = x − up(down(x)) + up(y)
    err = [float((down(project(x, y, 4, steps=k), 4) - y).abs().max()) for k in (1, 3, 10)]
    assert err[0] > err[1] > err[2] and err[2] < 3e-2  # converges even on white noise, the worst case


def test_superres_cli_prints_psnr_against_a_reference(trained_demo, tmp_path):
    x, _, files = held_out(trained_demo)
    low = tmp_path / "low.png"
    to_pil(down(x[3:4], 4)[0]).save(low)
    out = tmp_path / "sr.png"
    r = runner.invoke(app, ["superres", str(low), "--scale", "4", "--iters", "2", "--reference", str(files[3]),
                            "--out", str(out), "--ckpt", str(trained_demo["ckpt"]), "--device", "cpu"])
    assert r.exit_code == 0, r.output
    assert "bicubic" in r.output and "C's posterior" in r.output
    assert Image.open(out).size == (32, 32)
    rec = json.loads(out.with_suffix(".json").read_text())
    assert rec["psnr_down_vs_input"] > 35 and np.isfinite(rec["psnr"]) and np.isfinite(rec["psnr_bicubic"])
    r = runner.invoke(app, ["superres", str(low), "--scale", "3", "--ckpt", str(trained_demo["ckpt"])])
    assert r.exit_code == 1 and r.output.startswith("error: --scale 3")


def test_latent_fit_moves_g_towards_the_low_resolution_input(trained_demo):
    """`fit_latent` searches z for the face whose down-sampled image is y: the data term of its
    objective must fall from E's code z₀, the weights of G must not move, and the result must be a
    projected image like the iterated one."""
    loaded = demo_model(trained_demo)
    x, labels, _ = held_out(trained_demo)
    x, labels = x[:8], labels[:8]
    y = down(x, 4)
    c = loaded.model.class_vector(torch.tensor(labels))
    z0, _ = loaded.model.encode(bicubic(y, 4), c)
    before = {k: v.clone() for k, v in loaded.model.G.state_dict().items()}
    flags = [p.requires_grad for p in loaded.model.G.parameters()]
    z = fit_latent(loaded, y, c, 4, z0, steps=30, lr=0.05, noise=0.1)

    def misfit(zz: torch.Tensor) -> float:
        return float((down(loaded.model.generate(zz, c), 4) - y).pow(2).mean())

    assert misfit(z) < 0.8 * misfit(z0)
    assert not z.requires_grad and z.shape == z0.shape
    for k, v in loaded.model.G.state_dict().items():
        torch.testing.assert_close(v, before[k])
    assert [p.requires_grad for p in loaded.model.G.parameters()] == flags  # restored
    out = super_resolve_fit(loaded, y, c, 4, steps=5)
    assert len(out) == 3 and out[-1].shape == x.shape
    assert psnr(down(out[-1], 4), y) > 40.0

"""`cvaegan toy`: the coverage measure, the claim (mean feature matching covers the ring sooner than
the plain GAN) at a fixed small budget and seed, and the command's outputs."""

from __future__ import annotations

import json
import math

import pytest
import torch
from typer.testing import CliRunner

from cvaegan.cli.app import app
from cvaegan.pipelines.toy import RingConfig, ToyConfig, coverage, default_snapshots, ring_distance, train_toy

RING = RingConfig()


def _on_ring(angles: torch.Tensor, radius_offset: float = 0.0) -> torch.Tensor:
    r = RING.radius + radius_offset
    return torch.stack([r * angles.cos(), r * angles.sin()], 1) + torch.tensor(RING.centre)


def test_coverage_and_ring_distance_by_hand():
    bins = 36
    centres = (torch.arange(bins) + 0.5) * 2 * math.pi / bins
    assert coverage(_on_ring(centres), RING, bins, band=1.0) == pytest.approx(1.0)
    assert coverage(_on_ring(centres[: bins // 2]), RING, bins, band=1.0) == pytest.approx(0.5)
    # points on the centre are 1 radius off the ring: they cover nothing, at distance = radius
    at_centre = torch.tensor([RING.centre] * 10)
    assert coverage(at_centre, RING, bins, band=1.0) == 0.0
    assert float(ring_distance(at_centre, RING).mean()) == pytest.approx(RING.radius)
    # a full ring drawn 3 units too wide is out of a 2-unit band
    assert coverage(_on_ring(centres, 3.0), RING, bins, band=2.0) == 0.0
    assert float(ring_distance(_on_ring(centres, 3.0), RING).mean()) == pytest.approx(3.0, abs=1e-4)


def test_real_ring_samples_have_full_coverage():
    pts = RING.sample(2000, torch.Generator().manual_seed(0))
    assert coverage(pts, RING, 36, 2.0) == 1.0
    assert float(ring_distance(pts, RING).mean()) == pytest.approx(RING.std * math.sqrt(2 / math.pi), rel=0.1)


# Budget of this test (documented, not the CLI default): at the paper's lr of 5e-5 neither method
# reaches the ring within a few thousand iterations (the paper trains 2M), so the test runs the same
# methods at 10× the learning rate for 2,500 iterations, seed 0, and compares the mean coverage
# over the run (area under the coverage curve = "learns the ring fastest"). Seed 0 is the project's
# default seed and was not chosen for this test. Observed at this budget over seeds 0–5 (mean coverage,
# meanfm vs gan): .41/.01, .49/.57, .50/.00, .44/.26, .52/.54, .43/.00 — mean feature matching
# covers 40–50 % of the ring on every seed, while the plain GAN either stays stuck far away (3 of 6
# seeds) or learns about as fast; so the claim holds on 4 of 6 seeds, not on every one.
TEST_BUDGET = dict(iterations=2500, lr=5e-4, eval_every=250, seed=0)


def test_meanfm_covers_the_ring_sooner_than_gan():
    runs = {m: train_toy(ToyConfig(method=m, **TEST_BUDGET)) for m in ("gan", "meanfm")}
    s = {m: r.summary() for m, r in runs.items()}
    assert s["meanfm"]["mean_coverage"] > s["gan"]["mean_coverage"], s
    assert len(runs["gan"].history) == 2500 // 250 + 1


def test_default_snapshots_are_increasing_and_end_at_the_budget():
    snaps = default_snapshots(20_000)
    assert snaps[0] == 0 and snaps[-1] == 20_000 and snaps == sorted(set(snaps)) and len(snaps) == 5


def test_toy_cli_writes_panel_and_json(tmp_path):
    res = CliRunner().invoke(app, ["toy", "--iterations", "30", "--eval-every", "10", "--methods", "gan,wgan,meanfm",
                                   "--snapshots", "0,30", "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    rec = json.loads((tmp_path / "toy.json").read_text())
    assert rec["config"]["lr"] == 5e-5 and rec["methods"] == ["gan", "wgan", "meanfm"]
    assert [h["iteration"] for h in rec["history"]["wgan"]] == [0, 10, 20, 30]
    assert {s["method"] for s in rec["summary"]} == {"gan", "wgan", "meanfm"}
    from PIL import Image

    with Image.open(tmp_path / "toy.png") as im:
        assert im.width > 2 * im.height / 3 and im.height > 3 * 200  # 3 rows × 2 columns of cells


def test_toy_cli_rejects_unknown_method(tmp_path):
    res = CliRunner().invoke(app, ["toy", "--methods", "gan,vae", "--out", str(tmp_path)])
    assert res.exit_code == 1 and "unknown method" in res.output

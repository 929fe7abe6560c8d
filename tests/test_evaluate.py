"""`cvaegan evaluate` on a briefly trained checkpoint: every field, the JSON record, the CLI."""

from __future__ import annotations

import json
import math

import pytest
from typer.testing import CliRunner

from cvaegan.cli.app import app
from cvaegan.evaluation.evaluate import EvaluateOptions, evaluate
from cvaegan.evaluation.judge import JudgeTrainOptions, train_judge
from cvaegan.families.checkpoint import make_checkpoint
from cvaegan.families.cvaegan import CVAEGAN, CVAEGANConfig, ModelConfig
from cvaegan.runtime.checkpoint_io import save_checkpoint
from cvaegan.runtime.errors import CvaeganError


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def judge(trained_demo, tmp_path_factory):
    d = tmp_path_factory.mktemp("judge")
    return train_judge(JudgeTrainOptions(data=trained_demo["data"], out=d / "judge.pt", resolution=32, width=8,
                                         epochs=2, batch_size=32, device="cpu", workers=0, cache_dir=d)).path


def test_evaluate_produces_every_field(trained_demo, judge, tmp_path):
    out = tmp_path / "eval.json"
    rec = evaluate(EvaluateOptions(ckpt=trained_demo["ckpt"], judge=judge, data=trained_demo["data"], per_class=6,
                                   device="cpu", out=out, workers=0, cache_dir=tmp_path))
    k = rec["classes"]
    assert k == 6 and rec["n_generated"] == 36 and rec["n_heldout_real"] == 24 and rec["split_source"] == "manifest"
    for side in ("generated", "real_heldout"):
        assert 0.0 <= rec[side]["top1"] <= 1.0
        assert 1.0 - 1e-9 <= rec[side]["realism"] <= k + 1e-9
        assert rec[side]["diversity"] > 0
    assert rec["frechet_judge"] > 0 and rec["frechet_judge_real_train_vs_heldout"] >= 0
    assert "FID-style" in rec["frechet_note"]
    recon = rec["reconstruction"]
    assert recon is not None and recon["mse"] > 0 and math.isfinite(recon["psnr_db"]) and 0 <= recon["top1"] <= 1
    # PSNR is the mean of per-image PSNRs: at least the PSNR of the mean MSE is not above it by Jensen
    assert recon["psnr_db"] >= 10 * math.log10(4 / recon["mse"]) - 1e-6 and 0 < recon["ssim"] <= 1
    for side in ("generated", "reconstruction"):
        ratios = rec["fidelity"][side]
        assert set(ratios) == {"high_band_Y", "high_band_Cb", "high_band_Cr", "tv", "worst"}
        assert all(math.isfinite(v) and v > 0 for v in ratios.values())
        assert ratios["worst"] == max(v for k, v in ratios.items() if k != "worst")
    assert rec["fid_inception"] is None and "--inception" in rec["fid_note"]
    assert rec["diversity_ratio"] == pytest.approx(rec["generated"]["diversity"] / rec["real_heldout"]["diversity"])
    saved = json.loads(out.read_text())
    assert saved["generated"] == rec["generated"] and saved["reconstruction"] == recon
    assert (tmp_path / "eval.png").is_file()


def test_evaluate_skips_reconstruction_without_an_encoder(trained_demo, judge, tmp_path):
    names = json.loads((trained_demo["run"] / "config.json").read_text())["class_names"]
    model = CVAEGAN(CVAEGANConfig(ModelConfig(num_classes=len(names), resolution=32, width=0.125, model="cgan")))
    ckpt = save_checkpoint(tmp_path / "cgan.pt", make_checkpoint(model, class_names=names, step=0))
    rec = evaluate(EvaluateOptions(ckpt=ckpt, judge=judge, data=trained_demo["data"], per_class=3, device="cpu",
                                   out=tmp_path / "e.json", workers=0, cache_dir=tmp_path, grid=False))
    assert rec["reconstruction"] is None and "no encoder" in rec["reconstruction_note"]
    assert rec["fidelity"]["reconstruction"] is None and rec["fidelity"]["generated"]["tv"] > 0
    assert rec["model"] == "cgan" and 0 <= rec["generated"]["top1"] <= 1


def test_evaluate_rejects_a_judge_of_other_classes(trained_demo, tmp_path):
    from tests.helpers import make_shapes_dataset

    shapes = make_shapes_dataset(tmp_path / "shapes", classes=3, per_class=6, size=32)
    other = train_judge(JudgeTrainOptions(data=shapes, out=tmp_path / "j.pt", width=8, epochs=1, batch_size=8,
                                          device="cpu", workers=0, cache_dir=tmp_path)).path
    with pytest.raises(CvaeganError, match="classes differ"):
        evaluate(EvaluateOptions(ckpt=trained_demo["ckpt"], judge=other, data=trained_demo["data"], per_class=2,
                                 device="cpu", out=tmp_path / "e.json", workers=0, cache_dir=tmp_path))


def test_evaluate_cli(trained_demo, judge, tmp_path):
    out = tmp_path / "cli.json"
    res = CliRunner().invoke(app, ["evaluate", "--ckpt", str(trained_demo["ckpt"]), "--judge", str(judge),
                                   "--data", str(trained_demo["data"]), "-n", "3", "--device", "cpu", "--out", str(out),
                                   "--workers", "0", "--cache-dir", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert "judge top-1" in res.output and "Fréchet" in res.output and out.is_file()
    res = CliRunner().invoke(app, ["evaluate", "--ckpt", str(trained_demo["ckpt"]), "--judge", str(tmp_path / "no.pt"),
                                   "--data", str(trained_demo["data"])])
    assert res.exit_code == 1 and "no such judge file" in res.output
